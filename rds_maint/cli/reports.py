"""`status`, `list` and `events`: what operations there are, who drives them, what they did. Read only.

Every time is UTC and says so. Whether anything still drives a running operation is read from the record
alone (`liveness`): a running operation nobody has saved for longer than any driver waits between two
looks is shown as not driven since then, so a Ctrl-C'd run does not pass for a live one.

`list` reads the store's summaries only (a few hundred bytes each, never an operation record, which grows
with its steps) and writes as it goes, 500 rows at a time: over 10,000 operations it holds their summaries and
the table's cells (a few MiB).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from json.encoder import encode_basestring_ascii
from typing import Any

import click

from rds_maint.cli import common
from rds_maint.cli.liveness import Liveness, liveness
from rds_maint.cli.times import duration, utc
from rds_maint.cli.watch import watch
from rds_maint.engine import Engine
from rds_maint.errors import BadInput
from rds_maint.intervention import mask_token
from rds_maint.model import Operation, OperationState, Step, StepState
from rds_maint.pause_view import show_pause
from rds_maint.progress import MARKS
from rds_maint.progress.naming import target_text
from rds_maint.store.base import TargetKindFilter
from rds_maint.store.summary import OperationSummary, summary_of

__all__ = ["events", "list_operations", "status"]


@click.command()
@common.common_options
@click.argument("operation_id")
@click.option("--watch", "follow", is_flag=True, help="Follow it until it completes, fails or pauses.")
@click.option(
    "--interval",
    type=click.IntRange(min=1),
    help="Seconds between looks with --watch (default 5).",
)
def status(operation_id: str, follow: bool, interval: int | None) -> None:
    """Show an operation: state, times, steps with their durations, what it waits for.

    With --watch, follow it as it goes (whichever process drives it) until it completes, fails or
    pauses; Ctrl-C stops watching and changes nothing.

    \b
    Examples:
      rds-maint status orders-prod-20261202-021400-a1b2c3
      rds-maint status orders-prod-20261202-021400-a1b2c3 --watch --interval 10
    """

    def body() -> int:
        if interval is not None and not follow:
            raise BadInput("--interval goes with --watch")
        engine = common.engine()
        # a watch starts from its first `follow` (the operation and the cursor past its events, in one read)
        followed = engine.store.follow(operation_id) if follow else None
        op = followed.operation if followed is not None else engine.store.load(operation_id)
        result = engine.report(op)
        if common.opts().output == "json":
            if not follow:
                click.echo(json.dumps({"operation": _public(op), "result": result.to_dict()}, indent=2))
        else:
            _show_status(engine, op)
        if followed is not None:
            return watch(engine, followed, interval or 5, lambda end: _show_status(engine, end))
        return common.exit_code(result) if op.state is not OperationState.RUNNING else common.EXIT_OK

    common.guard(body)


def _public(op: Operation) -> dict[str, Any]:
    """The operation as JSON with its task token (a bearer credential) masked."""
    data = op.model_dump(mode="json")
    if data.get("intervention"):
        data["intervention"]["task_token"] = mask_token(op.intervention.task_token if op.intervention else None)
    return data


def _show_status(engine: Engine, op: Operation) -> None:
    now = engine.clock.now()
    state = liveness(summary_of(op), now, engine.poll_policy.max_seconds)
    where = target_text(op.target_id, op.target_kind)
    click.echo(f"Operation {op.id}: {op.type.value} on {where} ({op.region}), {state.state_text}")
    click.echo(f"  created:   {utc(op.created_at)}")
    if op.started_at is not None:
        end = op.completed_at or now
        took = "took" if op.completed_at else "elapsed"
        click.echo(f"  started:   {utc(op.started_at)} ({took} {duration((end - op.started_at).total_seconds())})")
    if op.completed_at is not None:
        click.echo(f"  ended:     {utc(op.completed_at)}")
    click.echo(f"  driver:    {state.driver}; last saved {utc(op.updated_at)}")
    if op.pause_requested is not None and not op.state.is_final:
        asked = op.pause_requested
        said = f": {asked.comment}" if asked.comment else ""
        click.echo(f"  pause asked for by {asked.actor} at {utc(asked.at)}{said}")
    for note in op.context.get("notes", []):
        click.echo(f"  note: {note}")
    for index, step in enumerate(op.steps):
        pointer = "*" if index == op.current_step_index and not op.state.is_final else " "
        took = _step_time(step, now)
        line = f" {pointer}[{MARKS[step.state]}] {index + 1:2d}. {step.name}: {step.description}"
        click.echo(f"{line}  ({took})" if took else line)
        if step.state is StepState.WAITING and step.wait_condition:
            click.echo(f"            waiting for {step.wait_condition}")
    if op.state is OperationState.PAUSED:
        show_pause(op, common.store_flag())
    elif op.state.is_final:
        click.echo(f"\n{op.id}: {op.state.value}" + (f": {op.error}" if op.error else ""))


def _step_time(step: Step, now: datetime) -> str:
    """How long a step took, or has taken so far."""
    if step.started_at is None:
        return ""
    if step.completed_at is not None:
        return f"took {duration((step.completed_at - step.started_at).total_seconds())}"
    if step.state in (StepState.IN_PROGRESS, StepState.WAITING):
        return f"{duration((now - step.started_at).total_seconds())} so far"
    return ""


@click.command(name="list")
@common.common_options
@click.option("--cluster", help="Only operations on this cluster (Aurora or Multi-AZ DB cluster).")
@click.option("--instance", help="Only operations on this DB instance (instead of --cluster).")
@click.option("--state", help="Only operations in this state.")
def list_operations(cluster: str | None, instance: str | None, state: str | None) -> None:
    """List operations in the store: what, where, state, who drives it, age, current step.

    A running operation that nothing has driven for a while (a run stopped with Ctrl-C, a machine that
    went away) shows as "running (not driven since 02:14 UTC)"; carry it on with rds-maint run OPERATION_ID.

    \b
    Examples:
      rds-maint list
      rds-maint list --cluster orders-prod --state paused --output json
      rds-maint list --instance orders-db
    """
    if cluster and instance:
        raise click.UsageError(
            f"give --cluster or --instance, not both (got --cluster {cluster} and --instance {instance})"
        )

    def body() -> int:
        if state is not None and state not in {s.value for s in OperationState}:
            allowed = ", ".join(s.value for s in OperationState)
            raise BadInput(f"--state {state!r} is not an operation state (expected one of: {allowed})")
        engine = common.engine()
        # The store files operations under their target's id, a cluster's or an instance's alike: the kind
        # is told apart there too (a DB instance may bear the name of a cluster).
        kind: TargetKindFilter = "cluster" if cluster else "instance"
        target = cluster or instance or None
        found = engine.store.summaries(target, kind if target else None, state or None)
        now = engine.clock.now()
        longest = engine.poll_policy.max_seconds
        if common.opts().output == "json":
            _stream_json(found, now, longest)
        elif not found:
            click.echo("No operations.")
        else:
            _stream_table(found, now, longest)
        return common.EXIT_OK

    common.guard(body)


COLUMNS = (
    ("ID", "id"),
    ("TYPE", "type"),
    ("TARGET", "target_text"),
    ("REGION", "region"),
    ("STATE", "state_text"),
    ("DRIVER", "driver"),
    ("AGE", "age"),
    ("STEP", "step_text"),
)


def _stream_table(found: list[OperationSummary], now: datetime, longest: int) -> None:
    """Each row's cells once (short strings: a few MiB for 10,000 operations), the widths from them, then the
    lines out in blocks of `_BLOCK` (one write each, not one per line)."""
    rows = [_cells(summary, now, longest) for summary in found]
    widths = [len(title) for title, _ in COLUMNS]
    for cells in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, cells, strict=True)]
    click.echo(_line([title for title, _ in COLUMNS], widths))
    for start in range(0, len(rows), _BLOCK):
        click.echo("\n".join(_line(cells, widths) for cells in rows[start : start + _BLOCK]))


_BLOCK = 500


def _line(cells: Sequence[str], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def _cells(summary: OperationSummary, now: datetime, longest: int) -> tuple[str, ...]:
    """The table's cells of a summary, in COLUMNS' order (the same texts as the JSON row's keys)."""
    state = liveness(summary, now, longest)
    where = target_text(summary.target_id, summary.target_kind)
    age = duration((now - summary.created_at).total_seconds())
    return (
        summary.id,
        summary.type.value,
        where,
        summary.region,
        state.state_text,
        state.driver,
        age,
        _step_text(summary),
    )


def _step_text(summary: OperationSummary) -> str:
    if summary.step_name is None or summary.state.is_final:
        return "-"
    return f"{summary.step_index + 1}/{summary.step_count} {summary.step_name}"


def _stream_json(found: list[OperationSummary], now: datetime, longest: int) -> None:
    """The JSON array element by element, the same text `json.dumps(rows, indent=2)` would make at once."""
    if not found:
        click.echo("[]")
        return
    click.echo("[")
    for start in range(0, len(found), _BLOCK):
        block = found[start : start + _BLOCK]
        text = ",\n".join(_json_element(_summary(s, liveness(s, now, longest), now)) for s in block)
        click.echo(text + ("," if start + _BLOCK < len(found) else ""))
    click.echo("]")


def _json_element(row: dict[str, Any]) -> str:
    """A row as an element of an array dumped with indent=2: every value is a scalar, each written as json.dumps
    writes it (json.dumps with an indent runs its pure-Python encoder: three times slower over 10,000 rows)."""
    body = ",\n".join(f"    {_scalar(key)}: {_scalar(value)}" for key, value in row.items())
    return "  {\n" + body + "\n  }"


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    return json.dumps(value)


def _summary(summary: OperationSummary, state: Liveness, now: datetime) -> dict[str, Any]:
    """A row of `list --output json` (its keys are what scripts read: keep every one)."""
    current = summary.step_name is not None
    age = (now - summary.created_at).total_seconds()
    return {
        "id": summary.id,
        "type": summary.type.value,
        "target": summary.target_id,
        # The column: a cluster by its name (as before DB instances), a DB instance as `instance NAME`.
        "target_text": target_text(summary.target_id, summary.target_kind),
        "target_type": summary.target_type,
        "cluster_id": summary.cluster_id,
        "instance_id": summary.instance_id,
        "region": summary.region,
        "state": summary.state.value,
        "state_text": state.state_text,
        "driver": state.driver,
        "not_driven_since": state.idle_since.isoformat() if state.idle_since else None,
        "created_at": summary.created_at.isoformat(),
        "updated_at": summary.updated_at.isoformat(),
        "age": duration(age),
        "age_seconds": int(age),
        "step": summary.step_name,
        "step_number": summary.step_index + 1 if current else None,
        "step_text": _step_text(summary),
    }


@click.command()
@common.common_options
@click.argument("operation_id")
def events(operation_id: str) -> None:
    """Show an operation's event log: when (UTC), what, who (for what a person did).

    \b
    Examples:
      rds-maint events orders-prod-20261202-021400-a1b2c3
      rds-maint events orders-prod-20261202-021400-a1b2c3 --output json
    """

    def body() -> int:
        found = common.engine().store.events(operation_id)
        if common.opts().output == "json":
            click.echo(json.dumps([e.model_dump(mode="json") for e in found], indent=2))
            return common.EXIT_OK
        who = max([len("ACTOR"), *(len(e.actor or "-") for e in found)])
        click.echo(f"{'TIME':<23}  {'EVENT':<24} {'ACTOR':<{who}}  MESSAGE")
        for e in found:
            click.echo(f"{utc(e.timestamp):<23}  {e.type:<24} {e.actor or '-':<{who}}  {e.message}")
        return common.EXIT_OK

    common.guard(body)
