"""Paperless forms (无纸化预填单): definitions as data, validation, encryption at rest, and the
fill → retrieve → sign → send-to-the-bank flow."""
