"""Partner (CP) accounts: API keys, IP allow-lists, sub-codes, quotas and rate limits."""
