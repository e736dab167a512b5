"""The ``kefu`` command.

Each package that offers commands owns a Typer app; this module only mounts them, so
``kefu --help`` reads as a map of the product.
"""

from __future__ import annotations

import typer

from kefu import serve_cli
from kefu.auth import cli as auth_cli
from kefu.bank import cli as bank_cli
from kefu.channels.manifest import load
from kefu.channels.registry import manifests
from kefu.cli_support import run_part
from kefu.db import cli as db_cli

app = typer.Typer(
    name="kefu",
    help="kefu (客服): omnichannel customer service for retail banks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db_cli.app, name="db")
app.add_typer(auth_cli.user_app, name="user")
app.add_typer(auth_cli.apikey_app, name="apikey")
app.add_typer(bank_cli.app, name="bank")
app.command("seed")(bank_cli.seed_command)
app.command("serve")(serve_cli.serve_command)
app.command("demo")(serve_cli.demo_command)
_run_app = typer.Typer(help="Run a part of kefu as a process of its own.", no_args_is_help=True)
app.add_typer(_run_app, name="run")
_run_app.command("workers")(serve_cli.run_workers_command)  # the background loops, leased

# --- sub-command registrations (one line per package) ---
from kefu.protocols.cli import app as _sms_app  # noqa: E402

app.add_typer(_sms_app, name="sms", help="SMS carrier protocols: simulators.")
from kefu.language.cli import app as _language_app  # noqa: E402

app.add_typer(_language_app, name="language", help="Chinese text understanding.")
from kefu.knowledge.cli import app as _knowledge_app  # noqa: E402

app.add_typer(_knowledge_app, name="knowledge", help="Knowledge base: FAQs, import/export, eval.")
from kefu.routing.cli import app as _routing_app  # noqa: E402

app.add_typer(_routing_app, name="routing", help="Skill-based routing: workflow documents.")
from kefu.subscriptions.cli import app as _subscriptions_app  # noqa: E402
from kefu.subscriptions.cli import run_scheduler as _run_scheduler  # noqa: E402

app.add_typer(_subscriptions_app, name="subscriptions", help="Subscriptions (定制): run once.")
_run_app.command("scheduler")(_run_scheduler)
from kefu.partners.cli import app as _partner_app  # noqa: E402

app.add_typer(_partner_app, name="partner", help="Partner (CP) accounts: add, list, key, disable.")
from kefu.channels.social.cli import check_mapping as _check_mapping  # noqa: E402
from kefu.social.cli import app as _social_app  # noqa: E402

# The webhook channel's mapping check sits with the rest of social media's commands.
_social_app.command("check-mapping")(_check_mapping)
app.add_typer(_social_app, name="social", help="Social media: listening rules, models, mappings.")
from kefu.analytics.cli import app as _analytics_app  # noqa: E402

app.add_typer(_analytics_app, name="analytics", help="Behaviour analytics: demo, retention.")
from kefu.branch.cli import app as _branch_app  # noqa: E402

app.add_typer(_branch_app, name="branch", help="Smart branch: queues and wait prediction.")
from kefu.crosssell.cli import app as _crosssell_app  # noqa: E402

app.add_typer(_crosssell_app, name="crosssell", help="Cross-selling: propensity models and offers.")
from kefu.reports.cli import app as _reports_app  # noqa: E402

app.add_typer(_reports_app, name="reports", help="Service-centre reports: KPI rollup, schedules.")
from kefu.quality.cli import app as _quality_app  # noqa: E402

app.add_typer(_quality_app, name="quality", help="Quality: inspect closed conversations, rules.")
from kefu.retention.cli import app as _retention_app  # noqa: E402

app.add_typer(_retention_app, name="retention", help="Data retention (PIPL): purge, legal holds.")
# --- end of registrations ---

# Each registered channel: its command groups and commands, and `kefu run <channel>`.
for _manifest in manifests():
    for _group, _path, _help in _manifest.cli:
        app.add_typer(load(_path), name=_group, help=_help)
    for _command, _path in _manifest.commands:
        app.command(_command)(load(_path))
    if _manifest.start and _manifest.runs_alone:
        _run_app.command(
            _manifest.name, help=f"The {_manifest.name} channel alone, until interrupted."
        )(run_part(_manifest.name))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
