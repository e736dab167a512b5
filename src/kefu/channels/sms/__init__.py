"""The SMS channel: carrier links, a persistent outbox, MO handling and business routing."""
