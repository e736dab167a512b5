"""SMS carrier protocols for asyncio: SMPP 3.4, CMPP 2.0/3.0, SGIP 1.2, SMGP 3.0.

A standalone library (it imports nothing else from kefu): PDU codecs, text encodings and
long-message handling, an async client per protocol (the bank's side) and a carrier
simulator per protocol with an HTTP control API. See docs/protocols.md.
"""
