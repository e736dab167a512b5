"""The business hall (营业厅) on WeChat and the web: the H5 pages followers open from an
official account's menu and news cards (bill, cards, branches, card binding, region,
knowledge articles), the accounts' custom menus, and followers' regions.

It is banking, not wire: the WeChat channel carries messages and knows nothing of it; the app
hands each the other's services (``kefu.runtime``), so neither imports the other.
"""
