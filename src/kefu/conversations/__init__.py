"""Conversations with customers and the messages in them, across every channel."""
