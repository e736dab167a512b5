"""Issue 21: the OpenAPI document tells the truth. Schemathesis generates requests from
``/openapi.json`` (examples, coverage of each constraint's edges, random fuzzing) and sends
them over HTTP to a real kefu (uvicorn on loopback, a seeded database, an admin API key);
every answer must be one the document describes (status, content type, body, headers), no
answer may be a server error, schema-violating requests must be refused and schema-valid
ones accepted (except the gaps named in tests/security/contract.py, with why).

The larger run (more examples, the stateful phase) is benchmarks/security_schemathesis.py.
"""

from __future__ import annotations

import pytest

from kefu.config import load_settings
from tests.security.contract import run_schemathesis, seed_database
from tests.security.live import LiveServer

pytestmark = pytest.mark.db

MAX_EXAMPLES = 5  # per operation and phase: about 2,000 cases, a minute or so a backend


def test_schemathesis_finds_nothing_the_document_does_not_describe(empty_db_url: str) -> None:
    key = seed_database(empty_db_url)
    settings = load_settings(database_url=empty_db_url, secret_key="t", api_docs_public=True)
    server = LiveServer(settings)
    with server as base:
        run = run_schemathesis(base, key, max_examples=MAX_EXAMPLES)
    print(run.summary())
    assert len(run.operations) >= 70, run.summary()  # every operation of the API was reached
    assert run.cases >= 10 * len(run.operations), run.summary()
    assert not run.errors, run.summary()
    assert not run.failures, run.summary() + "\nthe server's errors:\n" + "\n".join(server.errors)
