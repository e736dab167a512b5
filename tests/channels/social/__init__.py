"""Tests for the generic social webhook (kefu.channels.social)."""
