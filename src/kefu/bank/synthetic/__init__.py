"""A deterministic synthetic bank for the demo and the tests.

It stands in for the bank's systems of record: its tables (``bank_*``) live in the database
that ``--database-url`` names, apart from the platform's own, and kefu reaches them only
through :class:`~kefu.bank.synthetic.adapter.SyntheticBank`.
"""
