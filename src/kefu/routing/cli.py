"""``kefu routing``: check a workflow document and try it on a sample, offline."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from kefu.routing.engine import Router, Task
from kefu.routing.rules import WorkflowError, compile_workflow, load_text

app = typer.Typer(no_args_is_help=True, help="Skill-based routing: workflow documents.")


def _load(path: Path) -> Router:
    try:
        return Router(compile_workflow(load_text(path.read_text(encoding="utf-8"))))
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}") from None
    except WorkflowError as exc:
        for problem in exc.problems:
            typer.echo(f"{path}: {problem.path}: {problem.message}", err=True)
        raise typer.Exit(1) from None


@app.command("validate")
def validate(path: Path) -> None:
    """Validate a workflow document (JSON or YAML); problems are listed with their paths."""
    router = _load(path)
    workflow = router.workflow
    typer.echo(f"ok: {len(workflow.queues)} queues, {len(workflow.rules)} rules and a default")


@app.command("dry-run")
def dry_run(
    path: Path,
    conversation: str = typer.Argument(
        ..., help='JSON, e.g. {"channel": "weibo", "text": "卡被盗刷"}'
    ),
    waited: float = typer.Option(0.0, help="seconds the conversation has waited"),
) -> None:
    """Show which rule, priority and target a sample conversation gets."""
    router = _load(path)
    try:
        attributes = json.loads(conversation)
        if not isinstance(attributes, dict):
            raise ValueError
    except ValueError:
        raise typer.BadParameter("conversation: a JSON object") from None
    attributes = {"keywords": [], "sentiment": 0.0, "crisis": False, "text": "", **attributes}
    decision = router.classify(attributes)
    task = Task(0, str(attributes.get("channel", "webchat")), decision.rule, decision.priority, 0.0)
    target = router.target(task, waited)
    typer.echo(f"rule {decision.rule}, priority {router.effective_priority(task, waited)}, "
               f"queue {target.queue}, agents: {target.label}")  # fmt: skip
