"""Login, passwords, API keys, roles and the permission each route requires."""
