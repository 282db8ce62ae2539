"""Message catalogues (crm/translations/<lang>/LC_MESSAGES) and the Babel extractor that feeds them."""
