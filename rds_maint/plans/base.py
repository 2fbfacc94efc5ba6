"""What a plan is: ordered steps plus the facts rollback needs, built without any I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from rds_maint.model import Step
from rds_maint.steps.base import StepKind, StepParams

__all__ = ["Plan", "StepBuilder", "narrowed"]

P = TypeVar("P", bound=StepParams)
T = TypeVar("T")


def narrowed(value: object, expected: type[T], what: str = "facts") -> T:
    """The value as the type a builder takes (its params, its preflight facts); a mismatch is a bug in the
    caller, never bad input."""
    if not isinstance(value, expected):
        raise TypeError(f"{what}: expected {expected.__name__}, got {type(value).__name__}")
    return value


@dataclass
class Plan:
    steps: list[Step]
    notes: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    # Steps (name, id or action) the plan itself pauses before, e.g. a switchover by default;
    # merged with the request's pause_before_steps.
    pause_before: list[str] = field(default_factory=list)


@dataclass
class StepBuilder:
    """Numbers steps as they are added, so ids are stable and readable (s01, s02, ...)."""

    steps: list[Step] = field(default_factory=list)
    offset: int = 0

    def add(self, name: str, action: str, description: str, **parameters: Any) -> Step:
        step = Step(
            id=f"s{self.offset + len(self.steps) + 1:02d}",
            name=name,
            action=action,
            description=description,
            parameters=parameters,
        )
        self.steps.append(step)
        return step

    def step(self, kind: StepKind[P, Any], params: P, *, name: str, description: str) -> Step:
        """Add a typed step: mypy sees that `params` is the model `kind` takes."""
        return self.add(name, kind.action, description, **params.model_dump(mode="json", exclude_unset=True))
