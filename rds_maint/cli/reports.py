"""`status`, `list` and `events`: what operations there are and what they did. Read only."""

from __future__ import annotations

import json
from typing import Any

import click

from rds_maint.cli import common
from rds_maint.errors import BadInput
from rds_maint.intervention import mask_token
from rds_maint.model import Operation, OperationState
from rds_maint.progress import Progress

__all__ = ["events", "list_operations", "status"]


@click.command()
@common.common_options
@click.argument("operation_id")
def status(operation_id: str) -> None:
    """Show an operation: state, steps, what it waits for."""

    def body() -> int:
        engine = common.engine()
        op = engine.store.load(operation_id)
        result = engine.report(op)
        if common.opts().output == "json":
            click.echo(json.dumps({"operation": _public(op), "result": result.to_dict()}, indent=2))
        else:
            Progress(engine, op.id, store_flag=common.store_flag()).show_operation(op)
        return common.exit_code(result) if op.state is not OperationState.RUNNING else common.EXIT_OK

    common.guard(body)


def _public(op: Operation) -> dict[str, Any]:
    """The operation as JSON with its task token (a bearer credential) masked."""
    data = op.model_dump(mode="json")
    if data.get("intervention"):
        data["intervention"]["task_token"] = mask_token(op.intervention.task_token if op.intervention else None)
    return data


@click.command(name="list")
@common.common_options
@click.option("--cluster", help="Only operations on this cluster.")
@click.option("--state", help="Only operations in this state.")
def list_operations(cluster: str | None, state: str | None) -> None:
    """List operations in the store."""

    def body() -> int:
        if state is not None and state not in {s.value for s in OperationState}:
            allowed = ", ".join(s.value for s in OperationState)
            raise BadInput(f"--state {state!r} is not an operation state (expected one of: {allowed})")
        ops: list[Operation] = common.engine().store.list_operations(cluster_id=cluster or None, state=state or None)
        ops = [o for o in ops if (not cluster or o.cluster_id == cluster) and (not state or o.state.value == state)]
        if common.opts().output == "json":
            click.echo(json.dumps([_summary(o) for o in ops], indent=2))
        elif not ops:
            click.echo("No operations.")
        else:
            for o in ops:
                s = _summary(o)
                click.echo(f"{s['id']}  {s['type']:<22} {s['cluster_id']:<24} {s['state']:<12} {s['step'] or '-'}")
        return common.EXIT_OK

    common.guard(body)


def _summary(op: Operation) -> dict[str, Any]:
    step = op.current_step
    return {
        "id": op.id,
        "type": op.type.value,
        "cluster_id": op.cluster_id,
        "state": op.state.value,
        "step": step.name if step else None,
        "updated_at": op.updated_at.isoformat(),
    }


@click.command()
@common.common_options
@click.argument("operation_id")
def events(operation_id: str) -> None:
    """Show an operation's event log."""

    def body() -> int:
        found = common.engine().store.events(operation_id)
        if common.opts().output == "json":
            click.echo(json.dumps([e.model_dump(mode="json") for e in found], indent=2))
        else:
            for e in found:
                click.echo(f"{e.timestamp:%Y-%m-%d %H:%M:%S}  {e.type:<24} {e.message}")
        return common.EXIT_OK

    common.guard(body)
