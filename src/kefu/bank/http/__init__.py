"""The bank REST contract (docs/bank-api.openapi.json): a client adapter and a server."""
