"""Tests for kefu.social."""
