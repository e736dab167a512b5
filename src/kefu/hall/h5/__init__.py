"""H5 micro pages (微页面) opened from an official account's menu and news cards: my bill,
my cards, branches, bind card, region, knowledge articles. Mobile-first, server-rendered."""
