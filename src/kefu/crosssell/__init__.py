"""Cross-selling (交叉销售): the product catalogue's selling terms, eligibility and suitability
rules, propensity and "customers like you" models, offer arbitration and the agent's next best
offer panel (issue #18)."""
