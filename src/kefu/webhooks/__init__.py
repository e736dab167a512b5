"""Signed webhooks: subscriptions, deliveries written with the change, sent with retries."""
