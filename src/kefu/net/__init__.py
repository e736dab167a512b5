"""Outbound network safety: where kefu may send requests on someone's say-so."""
