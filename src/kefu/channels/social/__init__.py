"""The generic social webhook: Douyin, Xiaohongshu, forums, app-store reviews — any source that
can POST signed JSON, turned into social posts by a mapping file."""
