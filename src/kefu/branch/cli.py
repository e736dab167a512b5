"""``kefu branch``: evaluate wait prediction on a call-centre log, train the shipped model on
simulated branch days."""

from __future__ import annotations

from pathlib import Path

import typer

from kefu.branch.prediction import callcenter
from kefu.branch.prediction.evaluate import compare
from kefu.branch.prediction.model import SHIPPED, WaitModel

app = typer.Typer(no_args_is_help=True, help="Smart branch: queues and wait prediction.")


def _states(path: Path) -> tuple[list, list[float]]:  # type: ignore[type-arg]
    try:
        states, waits, _ = callcenter.queued_states(callcenter.read_calls(path))
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}") from None
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if not states:
        typer.echo(f"{path}: no served call waited in the queue", err=True)
        raise typer.Exit(1)
    return states, waits


@app.command("predict-eval")
def predict_eval(
    train: Path,
    test: Path,
    iterations: int = typer.Option(300, min=1, max=5000, help="boosting rounds of the model"),
) -> None:
    """Train on TRAIN, score every method on TEST's served calls that queued: one line per
    method with n=, mae= and rmse= (seconds). Split by time: TEST should be later days."""
    scores, _ = compare(_states(train), _states(test), iterations=iterations)
    for s in scores:
        typer.echo(f"{s.method}: n={s.n} mae={s.mae:.1f} rmse={s.rmse:.1f}")


@app.command("train-model")
def train_model(
    days: int = typer.Option(40, min=2, help="simulated branch days to train on"),
    out: Path = typer.Option(SHIPPED, help="where to write the model"),
) -> None:
    """Train the shipped wait model on simulated branch days (our own data, shippable)."""
    from kefu.branch.simulator import BranchPlan, default_profiles, simulate_day

    states, waits = [], []
    for day in range(days):
        plans = [BranchPlan(f"B{i}", default_profiles(3 + i), base_per_hour=14 + 5 * i + day % 7)
                 for i in range(4)]  # fmt: skip
        for c in simulate_day(plans, seed=day, weekday=day % 5):
            if c.start is not None and c.state is not None:
                states.append(c.state)
                waits.append(c.start - c.arrival)
    WaitModel.train(states, waits).save(out)
    typer.echo(f"trained on {len(states)} simulated customers ({days} days): {out}")


@app.command("new-form-key")
def new_form_key() -> None:
    """Print a new Fernet key for KEFU_BRANCH's form_keys (put it first to rotate)."""
    from kefu.branch.forms.crypto import new_key

    typer.echo(new_key())


@app.command("rotate-form-keys")
def rotate_form_keys() -> None:
    """Re-encrypt every stored form with the first of form_keys (after a new key was put
    first); then the old key can be removed from the settings."""
    import asyncio

    from kefu.branch.forms.crypto import FormCipher, FormCipherError
    from kefu.branch.forms.service import rotate_keys
    from kefu.config import get_settings
    from kefu.db.engine import make_engine, make_sessionmaker, session_scope

    settings = get_settings()
    cipher = FormCipher.from_settings(settings.branch, settings.secret_key)

    async def run() -> int:
        engine = make_engine(settings.database_url)
        try:
            async with session_scope(make_sessionmaker(engine)) as db:
                return await rotate_keys(db, cipher)
        finally:
            await engine.dispose()

    try:
        done = asyncio.run(run())
    except FormCipherError as exc:
        typer.echo(f"{exc}: keep the old key in form_keys until the rotation is done", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"re-encrypted {done} forms with the first key")
