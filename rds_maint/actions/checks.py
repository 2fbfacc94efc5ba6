"""Read-only steps: the cluster is as planned before we start, and as promised at the end.

A planned reader that no longer exists (someone deleted it, or Auto Scaling did) is skipped with an
event and reported by the verification, never recreated: there is nothing left to change, and a
pause would come back at every `continue`. The original writer is different: the operation cannot
put the writer back on an instance that is gone, so that still needs a person.

The class change's verification also looks for readers that joined during the operation (not
owned by Auto Scaling, not Serverless v2) on another class than the target: it pauses once and says
so; `continue` changes them too, one at a time, `mark_complete` leaves them.
"""

from __future__ import annotations

from typing import Any

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, ImmediateAction, Retry
from rds_maint.actions.polling import POLL_SECONDS
from rds_maint.errors import NeedsPerson
from rds_maint.model import Operation
from rds_maint.snapshots import ClusterSnapshot, MemberSnapshot
from rds_maint.steps.base import NoRecord
from rds_maint.steps.cluster import (
    CHECK_CLUSTER,
    MODIFY_INSTANCE_CLASS,
    REBOOT_INSTANCE,
    VERIFY_INSTANCE_CLASSES,
    CheckClusterParams,
    SkippableRecord,
    VerifyInstanceClassesParams,
    VerifyInstanceClassesRecord,
)

__all__ = [
    "CheckCluster",
    "VerifyContext",
    "VerifyInstanceClasses",
    "missing_readers",
    "rolling_problems",
    "skip_vanished",
    "vanished_instances",
]

VerifyContext = ActionContext[VerifyInstanceClassesParams, VerifyInstanceClassesRecord]


def skip_vanished(ctx: ActionContext[Any, Any], instance_id: str, cluster_id: str) -> Done | None:
    """Done (skipped, with an event) for a planned reader that is no longer in the cluster; None for the writer."""
    if instance_id == ctx.operation.context.get("original_writer"):
        return None
    message = f"{instance_id} is no longer in cluster {cluster_id}: skipped (rds-maint never recreates an instance)"
    ctx.note("instance_vanished", message, instance_id=instance_id)
    return Done(message, result=SkippableRecord(vanished=True))


def vanished_instances(operation: Operation) -> list[str]:
    """Planned instances that steps of this operation found gone and skipped."""
    steps = operation.steps
    changed = [
        MODIFY_INSTANCE_CLASS.parse_params(s.parameters).instance_id
        for s in steps
        if s.action == MODIFY_INSTANCE_CLASS.action and MODIFY_INSTANCE_CLASS.parse_record(s.result).vanished
    ]
    rebooted = [
        REBOOT_INSTANCE.parse_params(s.parameters).instance_id
        for s in steps
        if s.action == REBOOT_INSTANCE.action and REBOOT_INSTANCE.parse_record(s.result).vanished
    ]
    return sorted({*changed, *rebooted})


def missing_readers(ctx: ActionContext[Any, Any], cluster: ClusterSnapshot, planned: list[str]) -> list[str]:
    """Planned readers no longer in the cluster (noted as vanished); the original writer is never one of them."""
    writer = ctx.operation.context.get("original_writer")
    gone = sorted({i for i in planned if cluster.member(i) is None and i != writer})
    for instance_id in gone:
        if instance_id not in vanished_instances(ctx.operation):
            ctx.note(
                "instance_vanished", f"{instance_id} is no longer in cluster {cluster.id}", instance_id=instance_id
            )
    return gone


class CheckCluster(ImmediateAction):
    kind = CHECK_CLUSTER

    def run(self, ctx: ActionContext[CheckClusterParams, NoRecord]) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        writer = p.expected_writer
        if cluster.member(writer) is None:
            raise NeedsPerson(
                f"the planned writer {writer} is no longer in cluster {cluster.id}; create a new operation"
            )
        gone = missing_readers(ctx, cluster, list(p.members))
        if cluster.writer_id != writer:
            raise NeedsPerson(
                f"the writer of {cluster.id} is {cluster.writer_id}, not {writer} as planned; "
                "check the cluster, then abort and create a new operation"
            )
        if cluster.status != "available":
            return Retry(
                f"cluster {cluster.id} is {cluster.status}; starting once it is available",
                POLL_SECONDS["busy"],
            )
        skipped = f"; skipping {', '.join(gone)} (no longer in the cluster)" if gone else ""
        return Done(f"Cluster {cluster.id} is available with writer {cluster.writer_id}{skipped}")


def rolling_problems(ctx: ActionContext[Any, Any], cluster: ClusterSnapshot, expected_writer: str) -> list[str]:
    """What every temp-instance operation promises at the end: the original writer, no temp instance."""
    problems = []
    if cluster.writer_id != expected_writer:
        problems.append(f"writer is {cluster.writer_id}, expected {expected_writer}")
    temp_id = ctx.operation.context.get("temp_instance_id")
    if temp_id and cluster.member(temp_id) is not None:
        problems.append(f"temp instance {temp_id} is still in the cluster")
    return problems


def _new_readers(ctx: ActionContext[Any, Any], cluster: ClusterSnapshot, target: str) -> list[MemberSnapshot]:
    """Readers that joined after the plan was made, that a person placed (no Auto Scaling, no Serverless v2)."""
    known = set(ctx.operation.context.get("original_classes") or {})
    return [
        m
        for m in cluster.members
        if m.id not in known
        and not m.is_writer
        and not m.instance.is_autoscaled
        and not m.instance.is_serverless
        and not m.instance.operation_tag
        and (m.instance.instance_class != target or m.instance.pending_class is not None)
    ]


class VerifyInstanceClasses(ImmediateAction):
    kind = VERIFY_INSTANCE_CLASSES

    def run(self, ctx: VerifyContext) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        targets = set(p.expected_classes.values())
        if len(targets) == 1:
            changing = self._change_new_readers(ctx, cluster, targets.pop())
            if changing is not None:
                return changing
        problems = rolling_problems(ctx, cluster, p.expected_writer)
        expected = dict(p.expected_classes)
        gone = missing_readers(ctx, cluster, list(expected))
        for instance_id, wanted in expected.items():
            member = cluster.member(instance_id)
            if member is None:
                if instance_id not in gone:
                    problems.append(f"{instance_id} is missing")
            elif member.instance.instance_class != wanted:
                problems.append(f"{instance_id} is {member.instance.instance_class}, expected {wanted}")
        if problems:
            raise NeedsPerson(f"verification of {cluster.id} failed: " + "; ".join(problems))
        classes = {m.id: m.instance.instance_class for m in cluster.members}
        so_far = ctx.so_far()
        left = sorted(set(so_far.new_readers_asked) - set(so_far.new_changed))
        tail = f"; no longer in the cluster (skipped): {', '.join(gone)}" if gone else ""
        return Done(
            f"Cluster {cluster.id}: writer {cluster.writer_id}; "
            + ", ".join(f"{k}={v}" for k, v in sorted(classes.items()))
            + tail,
            result=VerifyInstanceClassesRecord(
                writer=cluster.writer_id, classes=classes, vanished=gone, new_readers_left=left
            ),
        )

    def _change_new_readers(self, ctx: VerifyContext, cluster: ClusterSnapshot, target: str) -> ActionOutcome | None:
        """Pause once about readers that joined on another class; after `continue`, change them one at a time.

        A Retry keeps this step running (and AWS is looked at again under the step lease); None when
        nothing is left to change.
        """
        so_far = ctx.so_far()
        new = _new_readers(ctx, cluster, target)
        if not new:
            return None
        asked = set(so_far.new_readers_asked)
        ids = sorted(m.id for m in new)
        if not set(ids) <= asked:
            ctx.keep(VerifyInstanceClassesRecord(new_readers_asked=sorted(asked | set(ids))))
            shown = ", ".join(f"{m.id} ({m.instance.instance_class})" for m in new)
            raise NeedsPerson(
                f"before verifying: {shown} joined cluster {cluster.id} during the operation and "
                f"{'is' if len(new) == 1 else 'are'} not on {target}. Answer continue to change "
                f"{'it' if len(new) == 1 else 'them'} to {target} too (one at a time, as the others), or "
                "mark_complete to leave "
                + ("it" if len(new) == 1 else "them")
                + " as "
                + ("it is" if len(new) == 1 else "they are")
            )
        requested = set(so_far.new_changed)
        busy = [
            m
            for m in new
            if m.id in requested or m.instance.pending_class is not None or m.instance.status != "available"
        ]
        if busy:
            member = busy[0]
            return Retry(
                f"{member.id} is {member.instance.status}, changing to {member.instance.pending_class or target}; "
                "the next new reader after it",
                POLL_SECONDS["modify"],
            )
        member = new[0]
        ctx.rds.modify_instance(member.id, instance_class=target)
        ctx.keep(VerifyInstanceClassesRecord(new_changed=sorted({*so_far.new_changed, member.id})))
        ctx.note(
            "modify_requested",
            f"Requested class change of {member.id} (joined during the operation) to {target}",
            target=target,
        )
        return Retry(f"changing {member.id} to {target}", POLL_SECONDS["modify"])
