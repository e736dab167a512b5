"""Chinese text understanding for every channel: intents and slots, sentiment, keywords,
topics and bursts. Start with ``from kefu.language.analyze import analyze``; see
docs/language.md. Importing the package loads neither jieba nor the models (``kefu --help``
goes through here)."""
