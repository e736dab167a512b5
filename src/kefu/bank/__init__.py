"""The port to the bank's systems of record, and its adapters (synthetic bank, HTTP).

The rest of kefu reads customers, accounts, cards, bills and products only through
:class:`kefu.bank.port.BankPort`; which adapter serves it is configuration.
"""
