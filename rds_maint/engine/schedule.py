"""When the engine looks again: every interval and timeout of the advance loop in one place.

A step that waits on AWS is looked at after the interval the `PollPolicy` picks from the time the
transition has taken (or the action's own interval); a step whose resource refuses for now (busy) and
one whose AWS call failed transiently try again after a fixed or a growing delay; a caller that finds
the step leased looks again soon. The operation's `wait_timeout` bounds a wait and a run of refusals
alike: past it, the engine pauses for a person.
"""

from __future__ import annotations

import math
from datetime import datetime

from rds_maint.actions import Wait
from rds_maint.actions.polling import PollPolicy
from rds_maint.model import StepProgress

__all__ = [
    "BUSY_RETRY_SECONDS",
    "LEASE_POLL_SECONDS",
    "TRANSIENT_BACKOFF_MAX",
    "TRANSIENT_BACKOFF_STEP",
    "lease_poll",
    "poll_seconds",
    "timed_out",
    "transient_backoff",
]

LEASE_POLL_SECONDS = 30  # how soon a caller that found the step leased looks again
BUSY_RETRY_SECONDS = 30  # a resource that refuses for now (InvalidDBInstanceState and the like)
# A transient AWS failure in a row (after the gateway's own retries): 15 s, 30 s, ... up to 2 min.
TRANSIENT_BACKOFF_STEP, TRANSIENT_BACKOFF_MAX = 15, 120


def lease_poll(remaining: float) -> int:
    """A leased step: look again when the lease ends, but at least every LEASE_POLL_SECONDS."""
    return max(1, min(LEASE_POLL_SECONDS, math.ceil(remaining)))


def transient_backoff(retry_count: int) -> int:
    return min(TRANSIENT_BACKOFF_MAX, TRANSIENT_BACKOFF_STEP * retry_count)


def timed_out(since: datetime | None, now: datetime, wait_timeout: int) -> bool:
    """Whether a wait (or a run of refusals) that began at `since` has outlasted the operation's timeout."""
    if since is None:
        return False
    return (now - since).total_seconds() > wait_timeout


def poll_seconds(policy: PollPolicy, progress: StepProgress, outcome: Wait, now: datetime) -> int:
    """How long until the next look at a waiting step.

    For a named transition the poll policy picks it from when the transition began: unlike
    wait_started_at (the wait timeout's start) an action does not move it; a step that waits for one
    thing after another (old instances deleted, then their cluster) starts again at each, and so does
    a `continue`.
    """
    if outcome.transition is None:
        return outcome.seconds
    if progress.poll_transition != outcome.transition or progress.poll_started_at is None:
        progress.poll_transition = outcome.transition
        progress.poll_started_at = now
    waited = (now - progress.poll_started_at).total_seconds()
    return policy.next_wait(outcome.transition, waited, outcome.instance_class)
