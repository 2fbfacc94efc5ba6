"""Who may act: the step lease (one `run` at a time) and the target's lock (one operation per cluster or DB
instance).

The step lease: before `run` may change AWS, `advance` marks the step with its attempt id and an
expiry in a conditional write; only the winner runs. No run outlives the longest Lambda (15 min),
so a lease past its expiry belonged to a holder that crashed: the step runs again, and its `run`
first looks for its own earlier effect. The save after the call ends the lease.

The lock has two halves: the store's lock (one record per target in this store, keyed by
`store.base.lock_key_for`: a DB instance's key never meets a cluster's) and the target's mark in AWS
(`cluster_mark`: a tag on the cluster or DB instance, which every store sees). `start` takes both, store first
(idempotent; a lock or mark left by a finished operation of this store is taken over); a final state
releases both, each only if it still names the operation; an operator frees both with `force_unlock`.
When the mark belongs to another operation, `start` gives the store lock it just took back and refuses:
nothing else was changed.

Crash windows of `start`, each converging when `start` runs again (a retried Lambda task, `rds-maint run
OP`), since both halves are idempotent for the same operation:
- store lock taken, mark not yet: the store lock is already ours, the mark is put on, the start saved;
- mark put on, start not saved: both halves are ours, the start is saved. Until then the operation is
  `created` and every other operation, whatever its store, is refused naming it; `unlock --force`
  frees the cluster if it is never run.
AWS throttling or a busy answer while marking does not fail the start: it keeps its store lock, is saved
`running` with the mark pending (`cluster_mark.MARK_PENDING`), and `advance` puts the mark on before the
first step (waiting while AWS still throttles; pausing, with nothing changed, if another operation marked
the cluster meanwhile).
A release that fails (AWS or the store unreachable at the final save) is logged: the next start from this
store takes over a lock or mark left by a finished operation, and another store's start is told to run
`rds-maint unlock --force`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rds_maint.clock import Clock
from rds_maint.engine.cluster_mark import (
    MARK_PENDING,
    TAG_ACTIVE_OPERATION,
    MarkKind,
    locked_error,
    read_mark,
    release_mark,
    remove_mark,
    take_mark,
)
from rds_maint.engine.events import make_event
from rds_maint.errors import BusyAwsError, ClusterLocked, Conflict, OperationNotFound, RdsMaintError, TransientAwsError
from rds_maint.log import get_logger
from rds_maint.model import Event, Operation, Step
from rds_maint.ports import RdsPort
from rds_maint.store.base import StateStore, lock_key_for

__all__ = [
    "LEASE_SECONDS",
    "Unlocked",
    "clear_lease",
    "drop_lease",
    "force_unlock",
    "grant_lease",
    "lease_remaining",
    "live_holder",
    "lock_holder",
    "locked_error",
    "op_lock_key",
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


# -- target lock ----------------------------------------------------------------------------------


def op_lock_key(op: Operation) -> str:
    """The store's lock key of the operation's target."""
    return lock_key_for(op.target_kind, op.target_id)


def live_holder(store: StateStore, target_id: str, region: str, kind: MarkKind = "cluster") -> Operation | None:
    """The operation holding the target's lock, unless it has finished (a stale lock)."""
    holder = store.lock_holder(lock_key_for(kind, target_id), region)
    if holder is None:
        return None
    try:
        other = store.load(holder)
    except OperationNotFound:
        return None
    return None if other.state.is_final else other


def take_lock(store: StateStore, clock: Clock, op: Operation, rds: RdsPort) -> list[Event]:
    """Take the store's lock, then the cluster's mark, for `op` (idempotent; see the module docstring).

    Raises ClusterLocked when another operation holds either; then the store's lock is given back and
    nothing else has changed. AWS throttling or busy answers while marking leave the mark pending
    (`MARK_PENDING` in the context): `advance` puts it on before the first step. Any other error while
    marking also gives the store's lock back.
    """
    events = _take_store_lock(store, clock, op)
    try:
        stale = take_mark(rds, store, op)
    except (TransientAwsError, BusyAwsError) as exc:
        # AWS throttled or busy for now: keep the store lock, start, and put the mark on before the first step
        op.context[MARK_PENDING] = True
        events.append(
            make_event(
                clock,
                op,
                "mark_pending",
                f"The {TAG_ACTIVE_OPERATION} tag could not be put on {op.target_id} yet ({exc.code} on "
                f"{exc.operation}); it is put on before the first step runs",
            )
        )
        return events
    except BaseException:
        store.release_lock(op_lock_key(op), op.region, op.id)
        raise
    if stale is not None:
        events.append(
            make_event(
                clock,
                op,
                "mark_taken_over",
                f"The {TAG_ACTIVE_OPERATION} tag of {op.target_id} still named '{stale}', which has finished; "
                "it now names this operation",
                previous_holder=stale,
            )
        )
    return events


def _take_store_lock(store: StateStore, clock: Clock, op: Operation) -> list[Event]:
    """The store's half: take over a lock left by a finished operation (compare-and-swap)."""
    events: list[Event] = []
    key = op_lock_key(op)
    holder = store.acquire_lock(key, op.region, op.id)
    for _ in range(3):
        if holder == op.id:
            return events
        try:
            other: Operation | None = store.load(holder)
        except OperationNotFound:
            other = None
        if other is not None and not other.state.is_final:
            raise locked_error(op.target_id, op.region, other, op.target_kind)
        events.append(
            make_event(
                clock,
                op,
                "lock_taken_over",
                f"Lock of {op.target_label} was still held by '{holder}', which "
                + ("no longer exists" if other is None else f"is {other.state.value}")
                + "; taken over",
                previous_holder=holder,
            )
        )
        holder = store.acquire_lock(key, op.region, op.id, replace=holder)
    raise ClusterLocked(f"{op.target_label} in {op.region}: its lock keeps changing hands; try again", holder)


def release_lock(store: StateStore, op: Operation, rds: RdsPort) -> None:
    """At a final state, both halves, each only if it names `op`. A failure is logged (module docstring)."""
    try:
        store.release_lock(op_lock_key(op), op.region, op.id)
    except RdsMaintError as exc:
        log.warning("lock_not_released", operation_id=op.id, target=op.target_label, error=str(exc))
    try:
        release_mark(rds, op)
    except RdsMaintError as exc:
        log.warning("mark_not_released", operation_id=op.id, target=op.target_label, error=str(exc))


def lock_holder(
    store: StateStore, rds: Callable[[], RdsPort], target_id: str, region: str, kind: MarkKind = "cluster"
) -> str | None:
    """Who holds the target: the store's lock holder, else the operation its mark names (None: free)."""
    holder = store.lock_holder(lock_key_for(kind, target_id), region)
    if holder is not None:
        return holder
    mark = read_mark(rds(), target_id, kind)
    return mark.holder if mark is not None else None


@dataclass(frozen=True)
class Unlocked:
    """What `force_unlock` freed: the holder, the operation the release is recorded on (None when this
    store does not hold it) and whether the cluster's mark was taken off."""

    holder: str
    recorded_on: str | None
    mark_removed: bool


def force_unlock(
    store: StateStore,
    clock: Clock,
    rds: Callable[[], RdsPort],
    target_id: str,
    region: str,
    comment: str | None,
    kind: MarkKind = "cluster",
) -> Unlocked | None:
    """An operator frees a target: the store's lock (recorded as an event on the operation that held it),
    then the target's mark, whichever operation it names. The store comes first: an operator the store
    refuses changes nothing in AWS. None when neither was held."""
    key, label = lock_key_for(kind, target_id), f"{kind} {target_id}"
    holder = store.lock_holder(key, region)
    recorded = _record_release(store, clock, holder, label, region, comment) if holder else None
    if holder is not None:
        store.release_lock(key, region, holder)
    marked = remove_mark(rds(), target_id, kind)
    if marked is not None and recorded is None:
        recorded = _record_release(store, clock, marked, label, region, comment)
    found = holder or marked
    if found is None:
        return None
    return Unlocked(holder=found, recorded_on=recorded, mark_removed=marked is not None)


def _record_release(
    store: StateStore, clock: Clock, holder: str, label: str, region: str, comment: str | None
) -> str | None:
    """The release as an event on the holder, if this store has it; its id, or None."""
    said = f" ({comment})" if comment else ""
    for _ in range(5):
        try:
            op = store.load(holder)
        except OperationNotFound:
            return None
        event = make_event(
            clock,
            op,
            "lock_released_by_operator",
            f"Lock of {label} in {region} released by an operator with --force{said}; "
            f"another operation may now start on the {label.split(' ', 1)[0]} while this one is {op.state.value}",
            comment=comment,
        )
        op.updated_at = clock.now()
        try:
            store.save(op, [event])
            return holder
        except Conflict:
            continue
    raise Conflict(f"operation '{holder}' kept changing; the lock was not released, try again")
