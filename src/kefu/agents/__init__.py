"""The people of the service centre: agents (users), teams and skills."""
