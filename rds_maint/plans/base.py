"""What a plan is: ordered steps plus the facts rollback needs, built without any I/O."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rds_maint.model import Step
from rds_maint.steps.base import StepKind, StepParams

P = TypeVar("P", bound=StepParams)

TEMP_MARKER = "rdsm"


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


def temp_instance_id(cluster_id: str, operation_id: str) -> str:
    """A valid, deterministic RDS identifier: the same operation always names the same instance.

    RDS identifiers: 1-63 chars, start with a letter, letters/digits/hyphens, no double or
    trailing hyphen. RDS has no client token on CreateDBInstance, so this name is what makes
    a retried create find the first one instead of making a second.
    """
    digest = hashlib.sha256(f"{cluster_id}/{operation_id}".encode()).hexdigest()[:8]
    suffix = f"-{TEMP_MARKER}-{digest}"
    base = re.sub(r"[^a-zA-Z0-9-]", "-", cluster_id)
    base = re.sub(r"-{2,}", "-", base).strip("-")[: 63 - len(suffix)].rstrip("-")
    if not base or not base[0].isalpha():
        base = ("c" + base)[: 63 - len(suffix)].rstrip("-")
    return f"{base}{suffix}"
