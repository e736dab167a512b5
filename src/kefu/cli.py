"""The ``kefu`` command.

Each package that offers commands owns a Typer app in its own ``cli.py``; this module only
mounts them, so ``kefu --help`` reads as a map of the product.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="kefu",
    help="kefu (客服): omnichannel customer service for retail banks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# --- sub-command registrations (one line per package) ---
from kefu.protocols.cli import app as _sms_app  # noqa: E402

app.add_typer(_sms_app, name="sms", help="SMS carrier protocols: simulators.")
# --- end of registrations ---


def main() -> None:
    app()


if __name__ == "__main__":
    main()
