"""Governed outbound messages: the one policy every non-transactional message passes, SMS
templates with maker-checker, recorded consent, opt-outs."""
