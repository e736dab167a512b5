"""Skill-based routing: workers, queues, workflows, reservations, SLA (TaskRouter's nouns)."""
