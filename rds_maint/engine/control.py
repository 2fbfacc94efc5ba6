"""What a person asks of an operation under way: new settings, or a pause at the next step boundary.

Both are saved on the operation through the normal conditional save, so whichever process drives it
(this machine's `run`, another machine's, a Step Functions execution) sees them at its next load, and the
engine honours a pause request when a step is done and before the next one starts, never in the middle
of one. A request is not written while another process holds the current step's lease (it is running
the step's action): that process would lose its own save to the conflict and wait out the lease. The
request waits for the lease to end, up to LEASE_WAIT_SECONDS; a holder that died leaves the lease until
it expires, and then the request is written anyway (the step, run again, first looks for its effect).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rds_maint.engine.coordination import lease_remaining
from rds_maint.engine.core import EngineCore
from rds_maint.errors import BadInput, Conflict
from rds_maint.model import Event, Operation, OperationState, PauseRequest, Step, StepResult, StepState

__all__ = [
    "LEASE_WAIT_SECONDS",
    "PauseAnswer",
    "WithdrawAnswer",
    "honour_pause_request",
    "request_pause",
    "step_label",
    "update_settings",
    "withdraw_pause_request",
]

LEASE_WAIT_SECONDS = 60
_LEASE_LOOK_SECONDS = 2
_SAVE_ATTEMPTS = 5

Change = Callable[[Operation], list[Event]]


@dataclass(frozen=True)
class PauseAnswer:
    """What `request_pause` did: `requested` is False when nothing was saved (already paused or asked)."""

    requested: bool
    message: str
    operation: Operation


@dataclass(frozen=True)
class WithdrawAnswer:
    """What `withdraw_pause_request` did: `withdrawn` is True when the request was taken off the record.
    `still_asked` is True when a request it would take back stays, its step under way (see there)."""

    withdrawn: bool
    message: str
    operation: Operation
    still_asked: bool = False


def step_label(op: Operation, index: int) -> str:
    """A step as a person finds it in `status`: its number and name."""
    return f"step {index + 1} '{op.steps[index].name}'"


# -- settings -------------------------------------------------------------------------------------


def update_settings(
    core: EngineCore,
    operation_id: str,
    *,
    wait_timeout: int | None = None,
    pause_before: Sequence[str] = (),
    actor: str | None = None,
) -> list[Event]:
    """A new wait timeout and pauses before later steps, saved with an event each; the events saved.

    Anything that cannot apply (a final operation, a bad value, a step already started or done) is
    refused with BadInput before anything is saved; a value the operation already has changes nothing.
    """
    if wait_timeout is not None:
        # the planner's own bounds; imported here, not by every engine call (a person's request is rare)
        from rds_maint.planning.request import check_wait_timeout

        check_wait_timeout(wait_timeout, "wait timeout")

    def change(op: Operation) -> list[Event]:
        if op.state.is_final:
            raise BadInput(f"operation '{op.id}' is {op.state.value}; its settings can no longer change")
        plans = [(ref, _upcoming(op, ref)) for ref in dict.fromkeys(pause_before)]
        events: list[Event] = []
        if wait_timeout is not None and wait_timeout != op.wait_timeout:
            message = (
                f"Wait timeout changed from {_seconds(op.wait_timeout)} to {_seconds(wait_timeout)} "
                f"by {actor or 'an operator'}"
            )
            events.append(
                core.event(
                    op,
                    "wait_timeout_changed",
                    message,
                    actor=actor,
                    previous=op.wait_timeout,
                    wait_timeout=wait_timeout,
                )
            )
            op.wait_timeout = wait_timeout
        for ref, indexes in plans:
            if ref in op.pause_before_steps:
                continue
            op.pause_before_steps.append(ref)
            for index in indexes:  # a pause answered before may be asked for again
                op.steps[index].progress.pause_acknowledged = False
            names = ", ".join(step_label(op, i) for i in indexes)
            message = f"Will pause before {names} as {actor or 'an operator'} asked"
            events.append(
                core.event(
                    op, "pause_before_added", message, actor=actor, ref=ref, steps=[op.steps[i].id for i in indexes]
                )
            )
        return events

    return _save_change(core, operation_id, change)


def _upcoming(op: Operation, ref: str) -> list[int]:
    """The steps `ref` names that are still to start; BadInput if it names none, or only steps begun."""
    from rds_maint.planning.step_refs import step_matches

    matched = [i for i, step in enumerate(op.steps) if step_matches(step, ref)]
    if not matched:
        names = ", ".join(f"{i + 1} {s.name}" for i, s in enumerate(op.steps))
        raise BadInput(f"no step '{ref}' in operation '{op.id}' (steps: {names})")
    upcoming = [i for i in matched if i >= op.current_step_index and op.steps[i].state is StepState.PENDING]
    if not upcoming:
        last = matched[-1]
        began = "is under way" if last == op.current_step_index else f"is {op.steps[last].state.value}"
        raise BadInput(f"cannot pause before {step_label(op, last)}: it {began}; name a step still to come")
    return upcoming


def _seconds(value: int) -> str:
    return f"{value // 60} min" if value % 60 == 0 else f"{value} s"


# -- pause requests ---------------------------------------------------------------------------------


def request_pause(core: EngineCore, operation_id: str, *, actor: str, comment: str | None = None) -> PauseAnswer:
    """Ask the operation to pause before its next step. A final one is refused (BadInput); a paused one,
    or one already asked to, is told so and left as it is."""
    if comment is not None and not isinstance(comment, str):
        raise BadInput("comment must be a string")
    said: list[str] = []

    def change(op: Operation) -> list[Event]:
        said.clear()
        if op.state.is_final:
            raise BadInput(f"operation '{op.id}' is {op.state.value}; there is nothing to pause")
        if op.state is OperationState.PAUSED:
            said.append(f"Operation {op.id} is already paused: {op.pause_reason}")
            return []
        if op.pause_requested is not None:
            asked = op.pause_requested
            said.append(
                f"A pause of {op.id} was already asked for by {asked.actor} at {asked.at:%H:%M:%S} UTC; "
                f"it pauses before {_next_boundary(op)}"
            )
            return []
        boundary = _next_boundary(op)
        op.pause_requested = PauseRequest(actor=actor, comment=comment, at=core.now())
        message = f"Pause asked for by {actor}" + (f" ({comment})" if comment else "") + f": pauses before {boundary}"
        said.append(message)
        return [core.event(op, "pause_requested", message, actor=actor, comment=comment)]

    saved = _save_change(core, operation_id, change)
    return PauseAnswer(requested=bool(saved), message=said[0], operation=core.store.load(operation_id))


def withdraw_pause_request(
    core: EngineCore,
    operation_id: str,
    *,
    actor: str,
    comment: str | None = None,
    asked_with: str | None = None,
) -> WithdrawAnswer:
    """Take back a pause asked for that has not happened yet, with an event that says who took it back.

    `asked_with`: only a request with this comment is taken back (a campaign knows its own requests by
    their comment; the person who resumes is often not the one who paused). Nothing is saved when no such
    request waits, or the operation has ended or paused. Nor while another process holds the step's lease:
    unlike a request, a withdrawal gains nothing by waiting, as the holder's save at the step's end honours
    the request; the answer says so (`still_asked`) and the operation pauses there. A holder that died
    leaves its lease until it expires; then the request is taken back.
    """
    if comment is not None and not isinstance(comment, str):
        raise BadInput("comment must be a string")
    said: list[str] = []
    left: list[bool] = []

    def change(op: Operation) -> list[Event]:
        said.clear()
        left.clear()
        asked = op.pause_requested
        if op.state.is_final or op.state is OperationState.PAUSED or asked is None:
            said.append(f"Operation {op.id} has no pause request waiting; nothing was changed")
            return []
        if asked_with is not None and asked.comment != asked_with:
            said.append(f"The pause of {op.id} asked for by {asked.actor} is not the one to take back; it was left")
            return []
        if _lease_left(core, op) > 0:
            left.append(True)
            said.append(
                f"A step of {op.id} is under way: it pauses when the step ends, as {asked.actor} asked; "
                "the request was left"
            )
            return []
        op.pause_requested = None
        message = f"Pause asked for by {asked.actor} taken back by {actor}" + (f": {comment}" if comment else "")
        said.append(message)
        return [core.event(op, "pause_request_withdrawn", message, actor=actor, comment=comment, asked_by=asked.actor)]

    saved = _save_change(core, operation_id, change)
    return WithdrawAnswer(
        withdrawn=bool(saved), message=said[0], operation=core.store.load(operation_id), still_asked=bool(left)
    )


def _next_boundary(op: Operation) -> str:
    """Where a pause asked for now happens: before the current step if it has not started, else the next."""
    step = op.current_step
    if step is None:
        raise BadInput(f"operation '{op.id}' has no step left to pause before; it is finishing")
    if step.state is StepState.PENDING:
        return step_label(op, op.current_step_index)
    if op.current_step_index + 1 >= len(op.steps):
        raise BadInput(
            f"operation '{op.id}' is in its last step ({step_label(op, op.current_step_index)}); "
            "there is no later step to pause before"
        )
    return step_label(op, op.current_step_index + 1)


def honour_pause_request(core: EngineCore, op: Operation, step: Step, events: list[Event]) -> None:
    """At a step boundary (`step` pending, about to start): pause as the person asked, and forget the request."""
    asked = op.pause_requested
    if asked is None:
        return
    reason = f"Paused before {step_label(op, op.current_step_index)}, as {asked.actor} asked"
    if asked.comment:
        reason += f": {asked.comment}"
    op.pause_requested = None
    core.pause(op, reason, events)


# -- the save ---------------------------------------------------------------------------------------


def _save_change(core: EngineCore, operation_id: str, change: Change) -> list[Event]:
    """Load, change, save conditionally; again after a lost race, and after a running step's lease ends."""
    waited = 0.0
    for _ in range(_SAVE_ATTEMPTS):
        while True:
            op = core.store.load(operation_id)
            events = change(op)
            if not events:
                return []
            remaining = _lease_left(core, op)
            if remaining <= 0 or waited >= LEASE_WAIT_SECONDS:
                break
            pause = min(remaining, _LEASE_LOOK_SECONDS, LEASE_WAIT_SECONDS - waited)
            core.clock.sleep(pause)
            waited += pause
        saved = core.save(op, events)
        if not isinstance(saved, StepResult):
            return events
    raise Conflict(
        f"operation '{operation_id}' kept changing while the change was saved; nothing was changed, try again"
    )


def _lease_left(core: EngineCore, op: Operation) -> float:
    step = op.current_step
    if step is None:
        return 0.0
    return lease_remaining(step, core.now()) or 0.0
