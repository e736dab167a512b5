"""Self-service: a customer's message in, the bank's answer out, in at most five messages.

The assistant knows banking (the bank port, bindings, dialogs) and nothing of wire protocols:
channels hand it a :class:`~kefu.assistant.turns.Turn` and send what it returns.
"""
