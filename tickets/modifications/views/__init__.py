"""The modification requests' pages: the portal's (filers, co-validators, everyone in scope) and the agency's."""
