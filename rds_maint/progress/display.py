"""What a person watching a run sees: each event as it happens, a live line for the current wait, and
the summary at the end.

It is fed by the engine's listener (`engine.listeners`: the operation and events of each save), so
watching costs no store reads beyond one load before the first save and one read of the event log
for the summary; the engine already read and wrote everything the display shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import timedelta

import click

from rds_maint.engine import Engine
from rds_maint.model import Event, Operation, Outcome, Step, StepResult, StepState
from rds_maint.pause_view import show_pause
from rds_maint.planning.estimate import estimate_steps
from rds_maint.progress.live import LiveLine, stdout_is_terminal
from rds_maint.progress.naming import target_text
from rds_maint.progress.summary import RunSummary, about, duration, summarise

__all__ = ["MARKS", "Progress"]

MARKS = {
    StepState.PENDING: " ",
    StepState.IN_PROGRESS: ">",
    StepState.WAITING: "~",
    StepState.COMPLETED: "x",
    StepState.FAILED: "!",
    StepState.SKIPPED: "-",
}


class Progress:
    """Prints each new event as it happens and, on a terminal, a live line for the current wait.

    `aws_calls` says how many RDS calls the engine has made so far (None: not counted)."""

    def __init__(
        self,
        engine: Engine,
        op_id: str,
        json_output: bool = False,
        store_flag: str = "",
        *,
        aws_calls: Callable[[], int | None] | None = None,
    ) -> None:
        self.engine = engine
        self.op_id = op_id
        self.json = json_output
        self.store_flag = store_flag
        self.aws_calls = aws_calls or (lambda: None)
        self.live = LiveLine(stdout_is_terminal() and not json_output)
        self.operation: Operation | None = None
        self._started = False
        self._next_look: float = 0.0
        self._look_at = engine.clock.now()

    # -- fed by the engine ------------------------------------------------------------------

    def listen(self, op: Operation, events: Sequence[Event]) -> None:
        """The engine's listener: the operation as just saved and the events of that save."""
        if op.id != self.op_id:
            return
        self.operation = op
        if self.json:
            return
        self._header(op)
        for event in events:
            self.live.clear()
            click.echo(f"  {event.timestamp:%H:%M:%S}  {event.message}")

    def update(self, result: StepResult) -> None:
        """After each call of the engine: on a wait, the live line (or a log line) for it."""
        if self.json:
            return
        op = self._current()
        self._header(op)
        if result.outcome is Outcome.WAIT:
            self._look_at = self.engine.clock.now()
            self._next_look = float(result.wait_seconds)
            self.live.log(f"  {self._look_at:%H:%M:%S}  ... {self._wait_text(op, countdown=False)}")
            self.tick()

    def tick(self) -> None:
        """Redraw the live line with the clock's time: called every second of a wait on a terminal."""
        op = self.operation
        if op is not None and not self.json:
            self.live.show(f"  {self._wait_text(op, countdown=True)}")

    # -- the end ----------------------------------------------------------------------------

    def finish(self, result: StepResult) -> RunSummary:
        summary = self.summary()
        if self.json:
            click.echo(json.dumps({**result.to_dict(), "summary": summary.to_dict()}, indent=2))
            return summary
        self.live.clear()
        op = self._current()
        self.show_steps(op)
        self.show_outcome(op, result)
        self._show_summary(summary)
        return summary

    def interrupted(self, carry_on: str) -> RunSummary:
        """Ctrl-C: what was done so far and the command that carries on."""
        summary = self.summary()
        if self.json:
            document = {"operation_id": self.op_id, "interrupted": True, "carry_on": carry_on}
            click.echo(json.dumps({**document, "summary": summary.to_dict()}, indent=2))
            return summary
        self.live.clear()
        click.echo(f"\nInterrupted. Operation {self.op_id} is saved as of its last look; nothing is left half-done.")
        self._show_summary(summary)
        click.echo(f"Carry on with: {carry_on}")
        return summary

    def summary(self) -> RunSummary:
        op = self._current()
        return summarise(op, self.engine.store.events(self.op_id), self.engine.clock.now(), self.aws_calls())

    # -- the operation --------------------------------------------------------------------

    def show_operation(self, op: Operation, header_only: bool = False) -> None:
        where = target_text(op.target_id, op.target_kind)
        click.echo(f"Operation {op.id}: {op.type.value} on {where} ({op.region}), {op.state.value}")
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
                took = f" in {duration((op.completed_at - op.started_at).total_seconds())}"
            click.echo(f"\n{op.id}: completed{took}")
        elif result.outcome is Outcome.FAILED:
            click.echo(f"\n{op.id}: {op.state.value}" + (f": {op.error}" if op.error else ""))
        else:
            click.echo(f"\n{op.id}: {op.state.value}; carry on with: rds-maint run {op.id}{self.store_flag}")

    # -- inside -----------------------------------------------------------------------------

    def _current(self) -> Operation:
        if self.operation is None:  # nothing saved in this run yet: one load
            self.operation = self.engine.store.load(self.op_id)
        return self.operation

    def _header(self, op: Operation) -> None:
        if not self._started:
            self._started = True
            self.show_operation(op, header_only=True)

    def _wait_text(self, op: Operation, countdown: bool) -> str:
        """The figures first, so that a narrow terminal cuts the words, not the times:
        `3/9 2m10s of ~8m, ~6m left | all 12m05s of ~40m, ~28m left | look in 20s | step: waiting for X`."""
        step = op.current_step
        now = self.engine.clock.now()
        if step is None or step.started_at is None:
            return op.state.value
        estimate = estimate_steps(op.steps)
        expected = estimate.for_step(step.id)
        elapsed = (now - step.started_at).total_seconds()
        parts = [f"{op.current_step_index + 1}/{len(op.steps)} {duration(elapsed)}"]
        left = 0.0
        if expected is not None:
            left = max(expected.seconds - elapsed, 0.0)
            parts[0] += f" of ~{about(expected.seconds)}, " + (f"~{about(left)} left" if left > 0 else "running long")
        if op.started_at is not None:
            all_left = left + estimate.remaining_after(step.id)
            so_far = duration((now - op.started_at).total_seconds())
            parts.append(f"all {so_far} of ~{about(estimate.total_seconds)}, ~{about(all_left)} left")
        next_in = self._next_look
        if countdown:
            next_in = (self._look_at + timedelta(seconds=self._next_look) - now).total_seconds()
        parts.append(f"look in {duration(next_in)}")
        parts.append(f"{step.name}: {_waiting(step)}")
        return " | ".join(parts)

    def _show_summary(self, summary: RunSummary) -> None:
        click.echo("")
        for line in summary.lines():
            click.echo(line)


def _waiting(step: Step) -> str:
    return f"waiting for {step.wait_condition}" if step.wait_condition else "running"
