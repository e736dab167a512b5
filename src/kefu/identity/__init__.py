"""Customers as the platform knows them, and their bound channel identities."""
