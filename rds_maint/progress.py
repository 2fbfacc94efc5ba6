"""What a person watching `rds-maint run` sees, and the in-process loop that drives the engine."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import click

from rds_maint.engine import Engine
from rds_maint.model import Operation, Outcome, StepResult, StepState
from rds_maint.pause_view import show_pause

__all__ = ["MARKS", "MAX_CONFLICT_RETRIES", "Progress", "drive"]

MARKS = {
    StepState.PENDING: " ",
    StepState.IN_PROGRESS: ">",
    StepState.WAITING: "~",
    StepState.COMPLETED: "x",
    StepState.FAILED: "!",
    StepState.SKIPPED: "-",
}
MAX_CONFLICT_RETRIES = 5


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Prints each new event as it happens and, on a terminal, a live line for the current wait."""

    def __init__(self, engine: Engine, op_id: str, json_output: bool = False, store_flag: str = "") -> None:
        self.engine = engine
        self.op_id = op_id
        self.json = json_output
        self.store_flag = store_flag
        self.seen = 0
        self.live = sys.stdout.isatty() and not json_output
        self._live_shown = False
        self._started = False

    def _clear_live(self) -> None:
        if self._live_shown:
            click.echo("\r\033[K", nl=False)
            self._live_shown = False

    def update(self, result: StepResult) -> None:
        if self.json:
            return
        if not self._started:
            self._started = True
            self.show_operation(self.engine.store.load(self.op_id), header_only=True)
        events = self.engine.store.events(self.op_id)
        for event in events[self.seen :]:
            self._clear_live()
            click.echo(f"  {event.timestamp:%H:%M:%S}  {event.message}")
        self.seen = len(events)
        if result.outcome is Outcome.WAIT:
            op = self.engine.store.load(self.op_id)
            step = op.current_step
            if step is not None and step.started_at is not None:
                now = self.engine.clock.now()
                elapsed = _duration((now - step.started_at).total_seconds())
                line = f"{step.wait_condition or step.name}: {elapsed} so far, next look in {result.wait_seconds}s"
                if self.live:  # one line that updates in place
                    click.echo(f"\r\033[K  ... {line}", nl=False)
                    self._live_shown = True
                else:  # a log, one line per look
                    click.echo(f"  {now:%H:%M:%S}  ... {line}")

    def finish(self, result: StepResult) -> None:
        if self.json:
            click.echo(json.dumps(result.to_dict(), indent=2))
            return
        self._clear_live()
        op = self.engine.store.load(self.op_id)
        self.show_steps(op)
        self.show_outcome(op, result)

    def show_operation(self, op: Operation, header_only: bool = False) -> None:
        click.echo(f"Operation {op.id}: {op.type.value} on {op.cluster_id} ({op.region}), {op.state.value}")
        for note in op.context.get("notes", []):
            click.echo(f"  note: {note}")
        self.show_steps(op)
        if not header_only:
            self.show_outcome(op, self.engine.report(op))

    def show_steps(self, op: Operation) -> None:
        for index, step in enumerate(op.steps):
            pointer = "*" if index == op.current_step_index and not op.state.is_final else " "
            line = f" {pointer}[{MARKS[step.state]}] {index + 1:2d}. {step.name}: {step.description}"
            if step.state is StepState.WAITING and step.wait_condition:
                line += f"\n            waiting for {step.wait_condition}"
            click.echo(line)

    def show_outcome(self, op: Operation, result: StepResult) -> None:
        if result.outcome is Outcome.INTERVENTION:
            show_pause(op, self.store_flag)
        elif result.outcome is Outcome.COMPLETED:
            took = ""
            if op.started_at and op.completed_at:
                took = f" in {_duration((op.completed_at - op.started_at).total_seconds())}"
            click.echo(f"\n{op.id}: completed{took}")
        elif result.outcome is Outcome.FAILED:
            click.echo(f"\n{op.id}: {op.state.value}" + (f": {op.error}" if op.error else ""))
        else:
            click.echo(f"\n{op.id}: {op.state.value}; carry on with: rds-maint run {op.id}{self.store_flag}")


def drive(
    engine: Engine,
    op_id: str,
    sleep: Callable[[float], None],
    progress: Progress | None = None,
    max_calls: int | None = None,
) -> StepResult:
    """Call `advance` until the operation completes, fails or needs a person, honouring wait_seconds."""
    calls = 0
    conflicts = 0
    while True:
        result = engine.advance(op_id)
        calls += 1
        if progress:
            progress.update(result)
        if result.outcome in (Outcome.COMPLETED, Outcome.FAILED, Outcome.INTERVENTION):
            return result
        if result.error and result.error.startswith("conflict"):
            conflicts += 1
            if conflicts > MAX_CONFLICT_RETRIES:
                return result
            sleep(1)
            continue
        conflicts = 0
        if max_calls is not None and calls >= max_calls:
            return result
        if result.outcome is Outcome.WAIT:
            sleep(result.wait_seconds)
