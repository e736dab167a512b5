"""Channel adapters: each turns its platform's traffic into kefu messages and back.

A channel knows its wire protocol (through :mod:`kefu.protocols`) and nothing of banking; it
hands customer text to the assistant and sends what comes back.
"""
