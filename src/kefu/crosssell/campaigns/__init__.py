"""Cross-selling campaigns: a segment, an approved template, an A/B hold-out, sends through
the governed outbound, replies on the campaign's SMS sub-code, attribution and the report."""
