"""What a step action may answer, and what it may see.

Actions are the only code that changes AWS. Each has `run` (do the change once,
after looking whether it is already done) and `check` (look whether the change has
reached its end state). Both are safe to repeat: a crash between an AWS call and
the save means `run` is called again, and it must find its own earlier effect.

An action declares its `StepKind`: the engine parses the step's stored params into the kind's
model before the call (`ctx.params`), and merges the record an outcome carries into the step's
result. The engine's own bookkeeping (leases, when a wait began) is not the action's to write: an
action that sees AWS progressing says so with `Wait(progressing=True)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from rds_maint.model import Operation, Step
from rds_maint.ports import RdsPort
from rds_maint.steps.base import StepKind, StepParams, StepRecord

__all__ = [
    "Action",
    "ActionContext",
    "ActionOutcome",
    "Done",
    "ImmediateAction",
    "Note",
    "RecordData",
    "Retry",
    "Wait",
    "is_disruptive",
    "record_dict",
]

P = TypeVar("P", bound=StepParams)
R = TypeVar("R", bound=StepRecord)
R2 = TypeVar("R2", bound=StepRecord)

# What an outcome may carry into the step's result: a record of the step's kind.
RecordData = StepRecord | None


def record_dict(record: RecordData) -> dict[str, Any]:
    """The JSON the step's result is updated with: only the fields the action set."""
    return {} if record is None else record.model_dump(mode="json", exclude_unset=True)


@dataclass(frozen=True)
class Done:
    """The step reached its end state."""

    message: str
    result: RecordData = None


@dataclass(frozen=True)
class Wait:
    """The change is under way (or adopted); check `condition` again after `seconds`."""

    condition: str
    seconds: int
    message: str = ""
    result: RecordData = None
    # The AWS transition being waited for (a key of polling.EXPECTED_SECONDS): when set, the
    # engine's PollPolicy picks the interval from the time already waited instead of `seconds`.
    transition: str | None = None
    instance_class: str | None = None
    # AWS shows the change moving (or the wait runs to a deadline of its own, such as a retention):
    # the operation's wait timeout starts again from now.
    progressing: bool = False


@dataclass(frozen=True)
class Retry:
    """AWS is not ready for the change yet (resource busy): run the action again later."""

    reason: str
    seconds: int
    transient: bool = False  # an AWS failure in a row (counted), not a resource that is busy


@dataclass
class Note:
    type: str
    message: str
    data: dict[str, Any]


@dataclass
class ActionContext(Generic[P, R]):
    """One call of one action: the step's typed params, its record so far, earlier steps' records."""

    rds: RdsPort
    operation: Operation
    step: Step
    now: datetime
    params: P
    kind: StepKind[P, R]
    # When the step began waiting (the engine's bookkeeping), or None before its first wait.
    waiting_since: datetime | None = None
    notes: list[Note] = field(default_factory=list)

    def note(self, type_: str, message: str, **data: Any) -> None:
        """Record something worth an event (an adoption, a no-op) beside the transition events."""
        self.notes.append(Note(type_, message, data))

    def so_far(self) -> R:
        """What this step recorded in its earlier calls (fields it has not set keep their defaults)."""
        return self.kind.parse_record(self.step.result)

    def keep(self, record: R) -> None:
        """Record facts now, with the save that follows this call, even if the action then pauses."""
        self.step.result.update(record_dict(record))

    def earlier(self, kind: StepKind[Any, R2]) -> R2 | None:
        """What earlier steps of `kind` recorded (each field from the latest step that set it), or None."""
        fields = kind.record.model_fields
        merged: dict[str, Any] = {}
        for step in self.operation.steps:
            if step.action == kind.action:
                merged.update({k: v for k, v in step.result.items() if k in fields})
        return kind.parse_record(merged) if merged else None


ActionOutcome = Done | Wait | Retry


class Action(Protocol[P, R]):
    """A typed action: its kind names it and types what it reads and records."""

    @property
    def kind(self) -> StepKind[P, R]: ...

    def run(self, ctx: ActionContext[P, R]) -> ActionOutcome: ...

    def check(self, ctx: ActionContext[P, R]) -> ActionOutcome: ...


def is_disruptive(action: Action[Any, Any] | None) -> bool:
    """Steps whose action moves the writer (failover, switchover): announced before and after."""
    return action is not None and action.kind.disruptive


class ImmediateAction:
    """An action with nothing to wait for: `check` is never reached after `Done`."""

    def check(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        raise NotImplementedError(f"step {ctx.step.name} does not wait")
