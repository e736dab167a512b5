"""Web plumbing shared by every UI and API package: templates, i18n, errors, auth deps."""
