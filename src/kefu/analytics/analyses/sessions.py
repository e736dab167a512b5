"""Which sessions to watch: the session ids behind a funnel's drop-off or a failing page, for
the replay list (kefu.analytics.replay keeps the recordings; this only picks ids)."""

from __future__ import annotations

from kefu.analytics.analyses.period import Period
from kefu.analytics.store.base import EventStore


def matching(
    store: EventStore,
    period: Period,
    *,
    reached: str = "",
    missed: str = "",
    failed: str = "",
    browser: str = "",
    limit: int = 2000,
) -> list[str]:
    """Sessions, newest first, that viewed ``reached`` and never ``missed`` (a funnel step's
    drop-off, by session: the funnel counts visitors within its window, the list shows the
    sessions where they stopped), and/or had an error or a failed request on the page
    ``failed`` (optionally with ``browser`` as "Chrome 122")."""
    where = [period.where()]
    params: list[object] = [*period.params()]
    having: list[str] = []
    params_having: list[object] = []
    if reached:
        having.append("count(*) FILTER (WHERE type = 'pageview' AND path = ?) > 0")
        params_having.append(reached)
    if missed:
        having.append("count(*) FILTER (WHERE type = 'pageview' AND path = ?) = 0")
        params_having.append(missed)
    if failed:
        having.append("count(*) FILTER (WHERE type IN ('error', 'http_error') AND path = ?) > 0")
        params_having.append(failed)
    if browser:
        name, _, version = browser.rpartition(" ")
        where.append("browser = ? AND browser_version = ?")
        params += [name, version]
    if not having:
        raise ValueError("say which sessions: a page reached, missed or failing")
    sql = (
        f"SELECT session_id FROM events WHERE {' AND '.join(where)} GROUP BY session_id "
        f"HAVING {' AND '.join(having)} ORDER BY max(ts) DESC LIMIT {int(limit)}"
    )
    return [row[0] for row in store.query(sql, [*params, *params_having])]
