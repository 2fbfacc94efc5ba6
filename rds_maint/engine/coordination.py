"""Who may act: the step lease (one `run` at a time) and the cluster lock (one operation per cluster).

The step lease: before `run` may change AWS, `advance` marks the step with its attempt id and an
expiry in a conditional write; only the winner runs. No run outlives the longest Lambda (15 min),
so a lease past its expiry belonged to a holder that crashed: the step runs again, and its `run`
first looks for its own earlier effect. The save after the call ends the lease.

The cluster lock: `start` takes it (idempotent; a lock left by a finished operation is taken over by
compare-and-swap), a final state releases it, an operator may free it with `force_unlock`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from rds_maint.clock import Clock
from rds_maint.engine.events import make_event
from rds_maint.errors import ClusterLocked, Conflict, OperationNotFound, RdsMaintError
from rds_maint.log import get_logger
from rds_maint.model import Event, Operation, Step
from rds_maint.store.base import StateStore

__all__ = [
    "LEASE_SECONDS",
    "clear_lease",
    "drop_lease",
    "force_unlock",
    "grant_lease",
    "lease_remaining",
    "live_holder",
    "locked_error",
    "release_lock",
    "take_lock",
]

log = get_logger("rds_maint.engine")

LEASE_SECONDS = 15 * 60


# -- step lease ---------------------------------------------------------------------------------


def lease_remaining(step: Step, now: datetime) -> float | None:
    """Seconds left on another attempt's lease of the step; None if it holds none, <= 0 once expired."""
    progress = step.progress
    if not progress.lease_attempt or progress.lease_until is None:
        return None
    return (progress.lease_until - now).total_seconds()


def grant_lease(step: Step, now: datetime, seconds: int) -> None:
    step.progress.lease_attempt = uuid.uuid4().hex[:16]
    step.progress.lease_until = now + timedelta(seconds=seconds)


def clear_lease(step: Step) -> None:
    step.progress.lease_attempt = None
    step.progress.lease_until = None


def drop_lease(store: StateStore, operation_id: str, attempt: str | None) -> None:
    """`run` was interrupted: free the lease now rather than at its expiry (the next run looks first)."""
    try:
        op = store.load(operation_id)
        step = op.current_step
        if step is not None and attempt is not None and step.progress.lease_attempt == attempt:
            clear_lease(step)
            store.save(op, [])
    except RdsMaintError as exc:
        log.warning("lease_not_dropped", operation_id=operation_id, error=str(exc))


# -- cluster lock ---------------------------------------------------------------------------------


def live_holder(store: StateStore, cluster_id: str, region: str) -> Operation | None:
    """The operation holding the cluster's lock, unless it has finished (a stale lock)."""
    holder = store.lock_holder(cluster_id, region)
    if holder is None:
        return None
    try:
        other = store.load(holder)
    except OperationNotFound:
        return None
    return None if other.state.is_final else other


def locked_error(cluster_id: str, region: str, holder: Operation) -> ClusterLocked:
    return ClusterLocked(
        f"cluster '{cluster_id}' in {region} is busy: operation '{holder.id}' ({holder.type.value}, "
        f"{holder.state.value}) holds its lock. Let it finish or answer it (rds-maint status {holder.id}); "
        f"if it is stuck, release the lock with: rds-maint unlock {cluster_id} --region {region} --force",
        holder.id,
    )


def take_lock(store: StateStore, clock: Clock, op: Operation) -> list[Event]:
    """Take the cluster lock for `op` (idempotent); take over a lock left by a finished operation."""
    events: list[Event] = []
    holder = store.acquire_lock(op.target_id, op.region, op.id)
    for _ in range(3):
        if holder == op.id:
            return events
        try:
            other: Operation | None = store.load(holder)
        except OperationNotFound:
            other = None
        if other is not None and not other.state.is_final:
            raise locked_error(op.target_id, op.region, other)
        events.append(
            make_event(
                clock,
                op,
                "lock_taken_over",
                f"Cluster lock of {op.target_id} was still held by '{holder}', which "
                + ("no longer exists" if other is None else f"is {other.state.value}")
                + "; taken over",
                previous_holder=holder,
            )
        )
        holder = store.acquire_lock(op.target_id, op.region, op.id, replace=holder)
    raise ClusterLocked(f"cluster '{op.target_id}' in {op.region}: its lock keeps changing hands; try again", holder)


def release_lock(store: StateStore, op: Operation) -> None:
    """At a final state. A failure is logged: the next start takes over a lock left by a finished operation."""
    try:
        store.release_lock(op.target_id, op.region, op.id)
    except RdsMaintError as exc:
        log.warning("lock_not_released", operation_id=op.id, cluster_id=op.target_id, error=str(exc))


def force_unlock(store: StateStore, clock: Clock, cluster_id: str, region: str, comment: str | None) -> str | None:
    """An operator frees a cluster's lock; recorded as an event on the operation that held it."""
    holder = store.lock_holder(cluster_id, region)
    if holder is None:
        return None
    said = f" ({comment})" if comment else ""
    for _ in range(5):
        try:
            op = store.load(holder)
        except OperationNotFound:
            break
        event = make_event(
            clock,
            op,
            "lock_released_by_operator",
            f"Cluster lock of {cluster_id} in {region} released by an operator with --force{said}; "
            f"another operation may now start on the cluster while this one is {op.state.value}",
            comment=comment,
        )
        op.updated_at = clock.now()
        try:
            store.save(op, [event])
            break
        except Conflict:
            continue
    else:
        raise Conflict(f"operation '{holder}' kept changing; the lock was not released, try again")
    store.release_lock(cluster_id, region, holder)
    return holder
