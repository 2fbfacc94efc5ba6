"""What every part of the engine shares: the store, the clock, the RDS ports, and the save that reports.

Every state change goes through `save_and_report`: one conditional save of the operation with the
events that describe the change, then the listeners, then the lock release at a final state, then
the DESIGN section 4 result. A lost race (Conflict) changes nothing and reports what the winner left.
A save that tells its driver to wait also records on the current step when that driver looks again
(`StepProgress.next_look_at`), so that a reader (`status --watch`) looks just after it rather than guessing.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from rds_maint.actions.polling import PollPolicy
from rds_maint.clock import Clock, SystemClock
from rds_maint.engine.coordination import LEASE_SECONDS, drop_lease, release_lock
from rds_maint.engine.events import Listener, make_event, tell_listeners
from rds_maint.errors import Conflict, RdsMaintError
from rds_maint.log import get_logger
from rds_maint.model import Event, Operation, OperationState, Outcome, Step, StepResult
from rds_maint.ports import RdsPort, RequestMeter
from rds_maint.store.base import StateStore, check_operation_id

__all__ = ["AttemptHook", "EngineCore"]

log = get_logger("rds_maint.engine")

# Called just before the engine calls an action: with the step and "run" (under the lease, may change
# AWS) or "check" (a waiting step looked at once). Benchmarks count with it; it must not raise.
AttemptHook = Callable[[Operation, Step, str], None]


class EngineCore:
    """The engine's state and its save; the parts (advance, answers, final state) are functions of it."""

    def __init__(
        self,
        store: StateStore,
        rds_for_region: Callable[[str], RdsPort],
        clock: Clock | None = None,
        poll_policy: PollPolicy | None = None,
        lease_seconds: int = LEASE_SECONDS,
        on_attempt: AttemptHook | None = None,
        request_meter: RequestMeter | None = None,
    ) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.poll_policy = poll_policy or PollPolicy.from_env()
        self._rds_for_region = rds_for_region
        self._gateways: dict[str, RdsPort] = {}
        self.clock: Clock = clock or SystemClock()
        self.listeners: list[Listener] = []
        self.on_attempt = on_attempt
        self.request_meter = request_meter

    def rds(self, region: str) -> RdsPort:
        if region not in self._gateways:
            self._gateways[region] = self._rds_for_region(region)
        return self._gateways[region]

    def _new_id(self, cluster_id: str) -> str:
        stamp = self.clock.now().strftime("%Y%m%d-%H%M%S")
        return check_operation_id(f"{cluster_id[:40].rstrip('-_')}-{stamp}-{secrets.token_hex(3)}")

    def _drop_lease(self, operation_id: str, attempt: str | None) -> None:
        drop_lease(self.store, operation_id, attempt)

    def event(self, op: Operation, type_: str, message: str, *, actor: str | None = None, **data: Any) -> Event:
        return make_event(self.clock, op, type_, message, actor=actor, **data)

    def now(self) -> datetime:
        return self.clock.now()

    # -- results ----------------------------------------------------------------------------

    def report(self, op: Operation, wait_seconds: int = 0, error: str | None = None) -> StepResult:
        outcome = {
            OperationState.COMPLETED: Outcome.COMPLETED,
            OperationState.FAILED: Outcome.FAILED,
            OperationState.ROLLED_BACK: Outcome.FAILED,
            OperationState.PAUSED: Outcome.INTERVENTION,
        }.get(op.state, Outcome.CONTINUE)
        return self.result(op, outcome, wait_seconds, error)

    def result(
        self,
        op: Operation,
        outcome: Outcome,
        wait_seconds: int = 0,
        error: str | None = None,
        step_index: int | None = None,
    ) -> StepResult:
        index = step_index
        if index is None:
            index = min(op.current_step_index, len(op.steps) - 1) if op.steps else None
        step = op.steps[index] if index is not None else None
        return StepResult(
            operation_id=op.id,
            operation_state=op.state.value,
            step_index=index,
            step_name=step.name if step else None,
            step_action=step.action if step else None,
            step_state=step.state.value if step else None,
            outcome=outcome,
            wait_seconds=wait_seconds,
            pause_reason=op.pause_reason,
            error=error if error is not None else (op.error if op.state.is_final else None),
        )

    # -- saving -----------------------------------------------------------------------------

    def save(self, op: Operation, events: list[Event], next_look_in: int | None = None) -> Operation | StepResult:
        """One conditional save and the listeners; a lost race answers the winner's state instead.

        `next_look_in`: the save tells its driver to wait that long, so the record says when the next look is
        due (readers wait for it); any other save says no look is pending.
        """
        op.updated_at = self.clock.now()
        _note_next_look(op, op.updated_at, next_look_in)
        self.count_requests(op)
        try:
            saved = self.store.save(op, events)
        except Conflict as exc:
            return self.conflict(op.id, exc)
        tell_listeners(self.listeners, saved, events)
        return saved

    def save_and_report(
        self,
        op: Operation,
        events: list[Event],
        outcome: Outcome,
        wait_seconds: int = 0,
        step_index: int | None = None,
    ) -> StepResult:
        saved = self.save(op, events, wait_seconds if outcome is Outcome.WAIT else None)
        if isinstance(saved, StepResult):
            return saved
        if saved.state.is_final:
            release_lock(self.store, saved, self.rds(saved.region))
            saved = self._keep_release_requests(saved)
        return self.result(saved, outcome, wait_seconds, step_index=step_index)

    def count_requests(self, op: Operation) -> None:
        """The RDS requests sent since the last save go into this save: a campaign target keeps them
        (`Operation.requests`), any other operation lets them go. A save lost to a race loses its count:
        the winner's record is the one kept, and the requests are a few looks' worth at most."""
        if self.request_meter is None:
            return
        sent = self.request_meter.take()
        if op.requests is not None:
            op.requests.add(self.clock.now(), sent)

    def _keep_release_requests(self, op: Operation) -> Operation:
        """A campaign target's last requests (its target's mark read and taken off) follow its final save, by
        design: one more save keeps them in its tally, with no event and no listener (nothing changed but the
        count). A lost race or a failing store loses only these few requests; the release stands."""
        if op.requests is None or self.request_meter is None:
            return op
        counted = op.requests.requests
        self.count_requests(op)
        sent = op.requests.requests - counted
        if sent <= 0:
            return op
        try:
            return self.store.save(op, [])
        except RdsMaintError as exc:
            log.warning("release_requests_not_counted", operation_id=op.id, requests=sent, error=str(exc))
            return op

    def forget_unsaved_requests(self) -> None:
        """Requests sent since the last save belong to no record now. The calls that may add to one (preview,
        start, advance, resume) begin with this, so that what came before (another operation's mark released
        after its final save, a campaign's planning) is not counted into the operation they save."""
        if self.request_meter is not None:
            self.request_meter.take()

    def conflict(self, operation_id: str, exc: Conflict) -> StepResult:
        """A lost race changed nothing: report what the winner left (the state machine routes on `conflict:`)."""
        current = self.store.load(operation_id)
        return self.report(current, error=f"conflict: {exc}; re-read: {current.state.value}")

    # -- pausing ----------------------------------------------------------------------------

    def pause(self, op: Operation, reason: str, events: list[Event], step_error: str | None = None) -> None:
        op.state = OperationState.PAUSED
        op.pause_reason = reason
        step = op.current_step
        if step is not None and step_error:
            step.error = step_error
        events.append(self.event(op, "operation_paused", reason, step=step.id if step else None))

    def unpause(self, op: Operation) -> None:
        op.state = OperationState.ROLLING_BACK if op.unwind else OperationState.RUNNING
        op.pause_reason = None
        op.intervention = None

    def run_next(self, op: Operation, steps: list[Step]) -> None:
        """Append `steps` and carry on from the first of them (unwind, or the final-state clean-up)."""
        op.steps.extend(steps)
        op.current_step_index = len(op.steps) - len(steps)
        self.unpause(op)


def _note_next_look(op: Operation, now: datetime, seconds: int | None) -> None:
    """The current step records when its driver looks again; every other step (ended, or not begun) none.

    It rides on the save being made: no write of its own. A driver that stops (Ctrl-C) leaves a time in the
    past, which a reader takes as "nothing is due", as it should.
    """
    current = op.current_step_index if op.current_step is not None and not op.state.is_final else None
    for index, step in enumerate(op.steps):
        if index == current and seconds is not None:
            step.progress.next_look_at = now + timedelta(seconds=seconds)
        elif step.progress.next_look_at is not None:
            step.progress.next_look_at = None
