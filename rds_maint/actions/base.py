"""What a step action may answer, and what it may see.

Actions are the only code that changes AWS. Each has `run` (do the change once,
after looking whether it is already done) and `check` (look whether the change has
reached its end state). Both are safe to repeat: a crash between an AWS call and
the save means `run` is called again, and it must find its own earlier effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from rds_maint.model import Operation, Step
from rds_maint.rds import RdsGateway


@dataclass(frozen=True)
class Done:
    """The step reached its end state."""

    message: str
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Wait:
    """The change is under way (or adopted); check `condition` again after `seconds`."""

    condition: str
    seconds: int
    message: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    # The AWS transition being waited for (a key of polling.EXPECTED_SECONDS): when set, the
    # engine's PollPolicy picks the interval from the time already waited instead of `seconds`.
    transition: str | None = None
    instance_class: str | None = None


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
class ActionContext:
    rds: RdsGateway
    operation: Operation
    step: Step
    now: datetime
    notes: list[Note] = field(default_factory=list)

    @property
    def params(self) -> dict[str, Any]:
        return self.step.parameters

    def note(self, type_: str, message: str, **data: Any) -> None:
        """Record something worth an event (an adoption, a no-op) beside the transition events."""
        self.notes.append(Note(type_, message, data))


ActionOutcome = Done | Wait | Retry


class Action(Protocol):
    name: str

    def run(self, ctx: ActionContext) -> ActionOutcome: ...

    def check(self, ctx: ActionContext) -> ActionOutcome: ...


class ImmediateAction:
    """An action with nothing to wait for: `check` is never reached after `Done`."""

    name = "immediate"

    def check(self, ctx: ActionContext) -> ActionOutcome:
        raise NotImplementedError(f"{self.name} does not wait")
