"""The demo's data: the customers it binds, the number the README texts from."""

from __future__ import annotations

import pytest

from kefu.demo import bound_demo_customers

pytestmark = pytest.mark.db


async def test_the_readme_number_is_the_first_bound_demo_customer(seeded_url: str) -> None:
    """Issue 23, finding 10: `kefu phone 13800138000` said the number was not bound."""
    bound = await bound_demo_customers(seeded_url)
    assert list(bound.items())[0] == ("13800138000", "C0000000001")
    assert len(bound) == 3 and len(set(bound.values())) == 3  # the other bindings remain
