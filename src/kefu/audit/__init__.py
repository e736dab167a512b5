"""Append-only audit log of sensitive actions (logins, lock-outs, user and key changes, …)."""
