"""Whether anything still drives an operation, told from its stored record alone (for `list` and `status`).

A live driver (`run` here or elsewhere, a Step Functions execution) saves the operation at every look,
and no look is further off than the poll policy's longest interval; one that holds the step lease is
running a step's action now. A running operation saved neither within that interval (plus a margin for
a slow call) nor under a live lease has been left: a run stopped with Ctrl-C, a machine gone, an
execution that ended. The record does not say which process drives a live one; a Step Functions
execution is known when it waits for an answer (its task token is recorded).

All of that is in the operation's summary (`store.summary`), so `list` tells it without reading a single
operation; a caller holding the whole operation passes it and its summary is taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rds_maint.cli.times import clock_utc
from rds_maint.model import Operation, OperationState
from rds_maint.store.summary import OperationSummary, summary_of

__all__ = ["DRIVER_MARGIN_SECONDS", "Liveness", "liveness"]

# Beyond the longest poll interval: the time one advance itself may take (AWS calls and their retries).
DRIVER_MARGIN_SECONDS = 120


@dataclass(frozen=True)
class Liveness:
    driver: str  # "step functions", "active" (saved lately, by a run or an execution), "none", "-" (final)
    state_text: str  # the state, or e.g. "running (not driven since 02:14 UTC)"
    idle_since: datetime | None = None  # a running operation nothing drives: its last save


def liveness(record: OperationSummary | Operation, now: datetime, longest_poll_seconds: int) -> Liveness:
    summary = summary_of(record) if isinstance(record, Operation) else record
    state = summary.state.value
    if summary.state.is_final:
        return Liveness("-", state)
    if summary.state is OperationState.PAUSED:
        return Liveness("step functions" if summary.awaiting_answer else "none", state)
    if summary.state is OperationState.CREATED:
        return Liveness("none", state)
    leased = summary.lease_until is not None and summary.lease_until > now
    quiet = timedelta(seconds=longest_poll_seconds + DRIVER_MARGIN_SECONDS)
    if leased or now - summary.updated_at <= quiet:
        return Liveness("active", state)
    idle = summary.updated_at
    return Liveness("none", f"{state} (not driven since {clock_utc(idle, now)})", idle)
