"""Data retention under PIPL: policies per data kind, the purge (with a dry run), legal holds,
and customers' export and erasure requests (issue #19 item 7; docs/retention.md)."""
