import pytest

from tests.conftest import login

pytestmark = pytest.mark.db


def test_metrics_count_requests_by_route_template(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "agent1")
    client.get("/api/v1/customers/C0000000001")
    client.get("/api/v1/customers/C0000000002")
    text = client.get("/metrics").text
    assert (
        'kefu_http_requests_total{method="GET",route="/api/v1/customers/{customer_no}",status="200"} 2.0'
        in text
    )
    # Customer numbers never appear as label values.
    assert "C0000000001" not in text
