"""Self-service: a customer's message in, the bank's answer out, in at most five messages.

The assistant knows banking (the bank port, bindings, dialogs) and nothing of wire protocols:
the message pipeline (kefu.messaging) hands it a :class:`~kefu.messaging.contract.Turn` and
the channel renders the :class:`~kefu.messaging.contract.Reply`.
"""
