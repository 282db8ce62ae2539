"""The application shell: config, extensions, accounts and auth, errors, i18n, registry, API plumbing."""
