"""Channel adapters: each turns its platform's traffic into kefu messages and back.

A channel knows its wire protocol (through :mod:`kefu.protocols`) and the message contract
(:mod:`kefu.messaging`), and nothing of banking: it hands customer messages to the pipeline and
delivers what comes back. Each folder declares itself in ``manifest.py``; ``registry.py`` lists
them.
"""
