"""Weibo channel: the official account's @mentions, comments and 私信 (polled and pushed), replies, and a local simulator of the Weibo open API."""
