"""One knowledge base for every channel: FAQ and articles, review workflow, retrieval, gaps."""
