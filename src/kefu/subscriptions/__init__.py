"""Subscriptions (定制): bill ready, repayment reminders, balance alerts — chosen by customers on a
channel, sent by the scheduler."""
