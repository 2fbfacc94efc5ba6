"""The cluster's mark: a tag on the DB cluster in AWS naming the operation that holds it (DESIGN section 9).

A store's lock only stops operations kept in that store; two people with two stores (a laptop's file
store and the team's DynamoDB table) would both get their store's lock on the same cluster. The mark is
the one record every store sees: the tag `rds-maint:active-operation` = the holding operation's id, on
the cluster itself. `take_mark` puts it on at start (after the store lock), `release_mark` takes it off at
a final state, `remove_mark` is the operator's `unlock --force`, and `mark_refusal` says why a create or a
start may not go on.

Whose mark it is decides: our own id is ours (a start that crashed after tagging); an operation of this
store that has finished left a stale mark, taken over; anything else (an operation not in this store, or
one of this store still running) holds the cluster.

AWS tags have no compare-and-swap (a tag call takes no condition on the current value), so `take_mark`
reads the mark again after tagging: of two starts that both read "no mark", the one whose tag was
overwritten sees the other's id on its second read, gives its store lock back and refuses. Both go on
only if one's whole read-tag-read falls between the other's first read and its tag: a window of a few
requests, not of the hours an operation runs (docs/aws-behaviour.md, "The cluster's mark").
"""

from __future__ import annotations

from dataclasses import dataclass

from rds_maint.errors import ClusterLocked, OperationNotFound
from rds_maint.model import Operation
from rds_maint.ports import RdsPort
from rds_maint.snapshots import ClusterSnapshot
from rds_maint.store.base import StateStore

__all__ = [
    "MARK_PENDING",
    "TAG_ACTIVE_OPERATION",
    "Mark",
    "locked_error",
    "mark_of",
    "mark_refusal",
    "read_mark",
    "release_mark",
    "remove_mark",
    "take_mark",
]

TAG_ACTIVE_OPERATION = "rds-maint:active-operation"
# In an operation's context: started while AWS throttled the mark; `advance` puts it on before any step.
MARK_PENDING = "cluster_mark_pending"


@dataclass(frozen=True)
class Mark:
    """The cluster as the mark sees it: its ARN and the operation its tag names (None: unmarked)."""

    cluster_id: str
    arn: str
    holder: str | None


def mark_of(cluster: ClusterSnapshot) -> Mark:
    return Mark(cluster.id, str(cluster.raw.get("DBClusterArn") or ""), cluster.tags.get(TAG_ACTIVE_OPERATION))


def read_mark(rds: RdsPort, cluster_id: str) -> Mark | None:
    """The mark now (one describe); None when the cluster does not exist."""
    cluster = rds.find_cluster(cluster_id)
    return mark_of(cluster) if cluster is not None else None


def locked_error(cluster_id: str, region: str, holder: Operation) -> ClusterLocked:
    """An operation of this store that has not finished holds the cluster (its store lock, its mark)."""
    return ClusterLocked(
        f"cluster '{cluster_id}' in {region} is busy: operation '{holder.id}' ({holder.type.value}, "
        f"{holder.state.value}) holds its lock. Let it finish or answer it (rds-maint status {holder.id}); "
        f"if it is stuck, release the lock with: rds-maint unlock {cluster_id} --region {region} --force",
        holder.id,
    )


def mark_refusal(store: StateStore, mark: Mark, region: str, operation_id: str | None) -> ClusterLocked | None:
    """Why the mark stops `operation_id` (None for a new plan), or None when it does not."""
    holder = mark.holder
    if not holder or holder == operation_id:
        return None
    try:
        other = store.load(holder)
    except OperationNotFound:
        return _foreign(mark, holder, region, store.url)
    return None if other.state.is_final else locked_error(mark.cluster_id, region, other)


def _foreign(mark: Mark, holder: str, region: str, store_url: str) -> ClusterLocked:
    """The mark names an operation this store does not hold: someone else's, from their store."""
    return ClusterLocked(
        f"cluster '{mark.cluster_id}' in {region} is busy: its tag {TAG_ACTIVE_OPERATION} says operation "
        f"'{holder}' holds it, and this store ({store_url}) does not know that operation: another person or "
        "another store (a file store on a laptop, the team's table) is running it. Let it finish: ask whoever "
        f"runs it, or look at it with rds-maint status {holder} --store <their store>; if you are sure nothing "
        f"is running on the cluster, remove the mark with: rds-maint unlock {mark.cluster_id} --region {region} "
        "--force",
        holder,
    )


def take_mark(rds: RdsPort, store: StateStore, op: Operation) -> str | None:
    """Put this operation's mark on its cluster (look before act); returns the stale holder it replaced.

    Raises ClusterLocked, having changed nothing in AWS, when another operation holds the mark (also when
    another start tagged the cluster between our tag and our second look: then the mark is the other's).
    A cluster that does not exist carries no mark: the plan's first step finds it gone.
    """
    mark = read_mark(rds, op.target_id)
    if mark is None or mark.holder == op.id:
        return None
    refusal = mark_refusal(store, mark, op.region, op.id)
    if refusal is not None:
        raise refusal
    rds.add_tags(mark.arn, {TAG_ACTIVE_OPERATION: op.id})
    again = read_mark(rds, op.target_id)
    if again is not None and again.holder != op.id:
        refusal = mark_refusal(store, again, op.region, op.id)
        if refusal is not None:
            raise refusal
    return mark.holder


def release_mark(rds: RdsPort, op: Operation) -> bool:
    """Take the mark off at a final state, only if it still names this operation; True if it did."""
    mark = read_mark(rds, op.target_id)
    if mark is None or mark.holder != op.id:
        return False
    rds.remove_tags(mark.arn, [TAG_ACTIVE_OPERATION])
    return True


def remove_mark(rds: RdsPort, cluster_id: str) -> str | None:
    """`unlock --force`: take the mark off whoever it names; returns that operation id (None: unmarked)."""
    mark = read_mark(rds, cluster_id)
    if mark is None or mark.holder is None:
        return None
    rds.remove_tags(mark.arn, [TAG_ACTIVE_OPERATION])
    return mark.holder
