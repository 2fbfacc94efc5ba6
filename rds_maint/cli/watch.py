"""`status OP --watch`: follow an operation another process drives, until it is final or paused.

It only reads, and no more than it must: each look is one `store.follow` (the operation and the events saved
since the last look, which the store reads from its cursor: on S3 one GET after one save, never the whole log
again). A look is worth making when the driver has looked: the engine records when that is due
(`StepProgress.next_look_at`, the save's time plus the wait it told its driver), so the watcher sleeps until
then plus a margin for the driver's own call, never less than `--interval` nor more than a minute. Where
nothing is due (a step running, or a driver gone), a look that finds nothing new doubles the sleep up to that
minute: a watch left on an operation nobody drives costs one read a minute. Ctrl-C stops the watching, never
the operation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime

import click

from rds_maint.cli import common
from rds_maint.cli.times import utc
from rds_maint.engine import Engine
from rds_maint.model import Event, Operation, OperationState
from rds_maint.store.base import Followed

__all__ = ["DUE_MARGIN_SECONDS", "LONGEST_SLEEP_SECONDS", "next_sleep", "watch"]

# After the driver's look is due: the time its own call (a describe, a save) takes before the save lands.
DUE_MARGIN_SECONDS = 2
# However far off the next look of the driver: a watcher looks at least this often (a Ctrl-C'd run, an answer).
LONGEST_SLEEP_SECONDS = 60


def watch(engine: Engine, followed: Followed, interval: int, show_end: Callable[[Operation], None]) -> int:
    """Print each new event, and the state line when it moves, until the operation is final or paused; the exit
    code. `followed` is the first read (`store.follow` without a cursor): its events were shown by the caller.

    `show_end` shows the operation as `status` does when the watch ends after a look (text output only).
    """
    as_json = common.opts().output == "json"
    op, cursor = followed.operation, followed.cursor
    where = _where(op)
    looked = False
    quiet = 0  # looks in a row that found nothing new
    if as_json:
        _show_state(engine, op, as_json)
    try:
        while not (op.state.is_final or op.state is OperationState.PAUSED):
            engine.clock.sleep(next_sleep(op, engine.clock.now(), interval, quiet))
            looked = True
            seen = engine.store.follow(op.id, cursor)
            moved = seen.operation.version != op.version
            op, cursor = seen.operation, seen.cursor
            for event in seen.events:
                _show_event(event, as_json)
            if not moved:
                quiet += 1
                continue
            quiet = 0
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


def next_sleep(op: Operation, now: datetime, interval: int, quiet: int) -> float:
    """Seconds until the next look: just after the driver's next look when the record says it is due, else
    `interval` doubled for each look in a row that found nothing; at least `interval`, at most a minute (or
    `interval`, when a person asked for longer).

    A driver's look due further off than a minute is reached in equal slices of at most a minute, so that
    the last of them still lands just after it (a minute at a time would land just before, and miss it).
    """
    step = op.current_step
    due = step.progress.next_look_at if step is not None else None
    if due is not None and due > now:
        wanted = (due - now).total_seconds() + DUE_MARGIN_SECONDS
        wanted /= math.ceil(wanted / LONGEST_SLEEP_SECONDS)
    else:
        wanted = float(interval * 2 ** min(quiet, 16))
    return float(max(interval, min(LONGEST_SLEEP_SECONDS, wanted)))


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
