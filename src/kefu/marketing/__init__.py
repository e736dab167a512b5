"""Governed outbound: consent and opt-outs (more rules arrive with outbound campaigns)."""
