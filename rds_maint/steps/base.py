"""The three pieces a step kind is made of: its action's name, its params model, its record model.

Params are frozen and strict about unknown keys (a plan that misspells one fails when it is built,
not at 2 a.m.). Records ignore keys they do not know, so that a record written by an older
version still reads; every field has a default, because a step that waits records its facts one
look at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = ["NoRecord", "StepKind", "StepParams", "StepRecord"]


class StepParams(BaseModel):
    """What a plan gives one step: fixed when the operation is created."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StepRecord(BaseModel):
    """What a step's action recorded about AWS (an id it made, when a change began)."""

    model_config = ConfigDict(extra="ignore")


class NoRecord(StepRecord):
    """For actions that record nothing beyond their message."""


P = TypeVar("P", bound=StepParams)
R = TypeVar("R", bound=StepRecord)


@dataclass(frozen=True)
class StepKind(Generic[P, R]):
    """One kind of step: plans build `params`, the action named `action` reads them and records `record`.

    `disruptive` steps move the writer (failover, switchover): the engine announces them before and after.
    `transition` is the AWS change the step waits for (a key of `actions.polling.EXPECTED_SECONDS`; None:
    it calls AWS once and does not wait) and `interruption` the stop of writes it causes ("failover",
    "switchover", "reboot", or "downtime": for the whole step), so that the estimate needs no table of its
    own for a new kind. The Aurora kinds are in `planning.estimate.TRANSITIONS` instead.
    """

    action: str
    params: type[P]
    record: type[R]
    disruptive: bool = False
    transition: str | None = None
    interruption: str | None = None

    def parse_params(self, data: dict[str, Any]) -> P:
        return self.params.model_validate(data)

    def parse_record(self, data: dict[str, Any]) -> R:
        return self.record.model_validate(data)
