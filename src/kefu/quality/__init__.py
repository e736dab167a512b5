"""Service quality: CSAT surveys after a conversation closes and quality inspection (质检) of
every closed conversation — automatic rule scores, a sampled human review and agents' appeals
(issue #19 items 4–5; docs/quality.md)."""
