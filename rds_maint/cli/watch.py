"""`status OP --watch`: follow an operation another process drives, until it is final or paused.

It only reads. Each look loads the operation (one read); the event log, which may be long, is read only
when the operation's version moved since the last look, so a watch left open over an hour-long wait
costs one read per interval. Ctrl-C stops the watching, never the operation.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import click

from rds_maint.cli import common
from rds_maint.cli.times import utc
from rds_maint.engine import Engine
from rds_maint.model import Event, Operation, OperationState

__all__ = ["watch"]


def watch(engine: Engine, op: Operation, interval: int, show_end: Callable[[Operation], None]) -> int:
    """Print each new event, and the state line when it moves, until `op` is final or paused; the exit code.

    `show_end` shows the operation as `status` does when the watch ends after a look (text output only).
    """
    as_json = common.opts().output == "json"
    seen = len(engine.store.events(op.id))
    version: int | None = op.version
    where = _where(op)
    looked = False
    if as_json:
        _show_state(engine, op, as_json)
    try:
        while not (op.state.is_final or op.state is OperationState.PAUSED):
            engine.clock.sleep(interval)
            looked = True
            op = engine.store.load(op.id)
            if op.version == version:
                continue
            version = op.version
            found = engine.store.events(op.id)
            for event in found[seen:]:
                _show_event(event, as_json)
            seen = len(found)
            if _where(op) != where:  # a check that changed nothing but the record's version is not news
                where = _where(op)
                _show_state(engine, op, as_json)
    except KeyboardInterrupt:
        click.echo(f"\nStopped watching {op.id}; the operation itself carries on as it was.", err=True)
        return common.EXIT_OK
    result = engine.report(op)
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    elif looked:  # the caller showed it as it was when the watch began
        show_end(op)
    return common.exit_code(result)


def _where(op: Operation) -> tuple[str, int, str | None]:
    step = op.current_step
    return op.state.value, op.current_step_index, step.state.value if step else None


def _show_event(event: Event, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"event": event.model_dump(mode="json")}))
        return
    who = f" [{event.actor}]" if event.actor else ""
    click.echo(f"  {utc(event.timestamp)}  {event.message}{who}")


def _show_state(engine: Engine, op: Operation, as_json: bool) -> None:
    step = op.current_step
    if as_json:
        click.echo(
            json.dumps(
                {
                    "operation_id": op.id,
                    "state": op.state.value,
                    "step_number": op.current_step_index + 1 if step else None,
                    "step_name": step.name if step else None,
                    "step_state": step.state.value if step else None,
                    "at": engine.clock.now().isoformat(),
                }
            )
        )
        return
    where = f" at step {op.current_step_index + 1} '{step.name}' ({step.state.value})" if step else ""
    click.echo(f"{utc(engine.clock.now())}  {op.id}: {op.state.value}{where}")
