"""Smart branch: branches, their counters and the teller's desk."""
