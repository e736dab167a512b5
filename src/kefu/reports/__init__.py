"""Service-centre reports for supervisors, analysts and the head of customer service."""
