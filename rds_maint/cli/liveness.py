"""Whether anything still drives an operation, told from its stored record alone (for `list` and `status`).

A live driver (`run` here or elsewhere, a Step Functions execution) saves the operation at every look,
and no look is further off than the poll policy's longest interval; one that holds the step lease is
running a step's action now. A running operation saved neither within that interval (plus a margin for
a slow call) nor under a live lease has been left: a run stopped with Ctrl-C, a machine gone, an
execution that ended. The record does not say which process drives a live one; a Step Functions
execution is known when it waits for an answer (its task token is recorded).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rds_maint.cli.times import clock_utc
from rds_maint.model import Operation, OperationState

__all__ = ["DRIVER_MARGIN_SECONDS", "Liveness", "liveness"]

# Beyond the longest poll interval: the time one advance itself may take (AWS calls and their retries).
DRIVER_MARGIN_SECONDS = 120


@dataclass(frozen=True)
class Liveness:
    driver: str  # "step functions", "active" (saved lately, by a run or an execution), "none", "-" (final)
    state_text: str  # the state, or e.g. "running (not driven since 02:14 UTC)"
    idle_since: datetime | None = None  # a running operation nothing drives: its last save


def liveness(op: Operation, now: datetime, longest_poll_seconds: int) -> Liveness:
    state = op.state.value
    if op.state.is_final:
        return Liveness("-", state)
    if op.state is OperationState.PAUSED:
        return Liveness("step functions" if op.intervention is not None else "none", state)
    if op.state is OperationState.CREATED:
        return Liveness("none", state)
    step = op.current_step
    leased = step is not None and step.progress.lease_until is not None and step.progress.lease_until > now
    quiet = timedelta(seconds=longest_poll_seconds + DRIVER_MARGIN_SECONDS)
    if leased or now - op.updated_at <= quiet:
        return Liveness("active", state)
    return Liveness("none", f"{state} (not driven since {clock_utc(op.updated_at, now)})", op.updated_at)
