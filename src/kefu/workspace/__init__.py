"""The agent and supervisor web UI: home, conversations, the agent roster."""
