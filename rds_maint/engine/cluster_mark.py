"""The target's mark: a tag on the DB cluster or DB instance in AWS naming the operation that holds it (DESIGN
section 9).

A store's lock only stops operations kept in that store; two people with two stores (a laptop's file
store and the team's DynamoDB table) would both get their store's lock on the same cluster. The mark is
the one record every store sees: the tag `rds-maint:active-operation` = the holding operation's id, on
the target itself: the DB cluster (Aurora or Multi-AZ DB cluster), or the DB instance of an operation on an
RDS DB instance (DESIGN section 10; AddTagsToResource takes a `db:` ARN as it takes a `cluster:` one).
`take_mark` puts it on at start (after the store lock), `release_mark` takes it off at
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
from typing import Literal

from rds_maint.errors import ClusterLocked, OperationNotFound
from rds_maint.model import Operation
from rds_maint.ports import RdsPort
from rds_maint.snapshots import ClusterSnapshot, InstanceSnapshot
from rds_maint.store.base import StateStore

__all__ = [
    "MARK_PENDING",
    "TAG_ACTIVE_OPERATION",
    "Mark",
    "MarkKind",
    "locked_error",
    "mark_of",
    "mark_refusal",
    "read_mark",
    "release_mark",
    "remove_mark",
    "take_mark",
    "unlock_command",
]

TAG_ACTIVE_OPERATION = "rds-maint:active-operation"
# In an operation's context: started while AWS throttled the mark; `advance` puts it on before any step.
MARK_PENDING = "cluster_mark_pending"


# Which resource carries the mark: a DB cluster (Aurora, Multi-AZ DB cluster) or an RDS DB instance.
MarkKind = Literal["cluster", "instance"]


@dataclass(frozen=True)
class Mark:
    """The target as the mark sees it: its kind, id, ARN and the operation its tag names (None: unmarked)."""

    kind: MarkKind
    target_id: str
    arn: str
    holder: str | None

    @property
    def label(self) -> str:
        """How messages name the target: `cluster orders-prod` or `instance orders-db`."""
        return f"{self.kind} {self.target_id}"


def mark_of(target: ClusterSnapshot | InstanceSnapshot) -> Mark:
    """The mark as the target's snapshot (a describe already made) shows it."""
    if isinstance(target, InstanceSnapshot):
        return Mark(
            "instance", target.id, target.arn or str(target.raw.get("DBInstanceArn") or ""), _holder(target.tags)
        )
    return Mark("cluster", target.id, str(target.raw.get("DBClusterArn") or ""), _holder(target.tags))


def _holder(tags: dict[str, str]) -> str | None:
    return tags.get(TAG_ACTIVE_OPERATION) or None


def unlock_command(kind: MarkKind, target_id: str, region: str) -> str:
    """The operator's command that frees the target (`unlock --force`: the store's lock and the mark)."""
    named = f"--instance {target_id}" if kind == "instance" else target_id
    return f"rds-maint unlock {named} --region {region} --force"


def read_mark(rds: RdsPort, target_id: str, kind: MarkKind = "cluster") -> Mark | None:
    """The mark now (one describe of the cluster or the DB instance); None when the target does not exist."""
    target = rds.find_instance(target_id) if kind == "instance" else rds.find_cluster(target_id)
    return mark_of(target) if target is not None else None


def locked_error(target_id: str, region: str, holder: Operation, kind: MarkKind = "cluster") -> ClusterLocked:
    """An operation of this store that has not finished holds the target (its store lock, its mark)."""
    unlock = unlock_command(kind, target_id, region)
    return ClusterLocked(
        f"{kind} '{target_id}' in {region} is busy: operation '{holder.id}' ({holder.type.value}, "
        f"{holder.state.value}) holds its lock. Let it finish or answer it (rds-maint status {holder.id}); "
        f"if it is stuck, release the lock with: {unlock}",
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
    return None if other.state.is_final else locked_error(mark.target_id, region, other, mark.kind)


def _foreign(mark: Mark, holder: str, region: str, store_url: str) -> ClusterLocked:
    """The mark names an operation this store does not hold: someone else's, from their store."""
    unlock = unlock_command(mark.kind, mark.target_id, region)
    return ClusterLocked(
        f"{mark.kind} '{mark.target_id}' in {region} is busy: its tag {TAG_ACTIVE_OPERATION} says operation "
        f"'{holder}' holds it, and this store ({store_url}) does not know that operation: another person or "
        "another store (a file store on a laptop, the team's table) is running it. Let it finish: ask whoever "
        f"runs it, or look at it with rds-maint status {holder} --store <their store>; if you are sure nothing "
        f"is running on the {mark.kind}, remove the mark with: {unlock}",
        holder,
    )


def take_mark(rds: RdsPort, store: StateStore, op: Operation) -> str | None:
    """Put this operation's mark on its target (look before act); returns the stale holder it replaced.

    Raises ClusterLocked, having changed nothing in AWS, when another operation holds the mark (also when
    another start tagged the target between our tag and our second look: then the mark is the other's).
    A target that does not exist carries no mark: the plan's first step finds it gone.
    """
    mark = read_mark(rds, op.target_id, op.target_kind)
    if mark is None or mark.holder == op.id:
        return None
    refusal = mark_refusal(store, mark, op.region, op.id)
    if refusal is not None:
        raise refusal
    rds.add_tags(mark.arn, {TAG_ACTIVE_OPERATION: op.id})
    again = read_mark(rds, op.target_id, op.target_kind)
    if again is not None and again.holder != op.id:
        refusal = mark_refusal(store, again, op.region, op.id)
        if refusal is not None:
            raise refusal
    return mark.holder


def release_mark(rds: RdsPort, op: Operation) -> bool:
    """Take the mark off at a final state, only if it still names this operation; True if it did."""
    mark = read_mark(rds, op.target_id, op.target_kind)
    if mark is None or mark.holder != op.id:
        return False
    rds.remove_tags(mark.arn, [TAG_ACTIVE_OPERATION])
    return True


def remove_mark(rds: RdsPort, target_id: str, kind: MarkKind = "cluster") -> str | None:
    """`unlock --force`: take the mark off whoever it names; returns that operation id (None: unmarked)."""
    mark = read_mark(rds, target_id, kind)
    if mark is None or mark.holder is None:
        return None
    rds.remove_tags(mark.arn, [TAG_ACTIVE_OPERATION])
    return mark.holder
