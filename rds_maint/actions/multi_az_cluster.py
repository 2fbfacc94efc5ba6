"""Step actions for Multi-AZ DB clusters: ModifyDBCluster, RebootDBCluster, member reboots, the verify.

ModifyDBCluster and RebootDBCluster are each sent at most once per step, across crashes. AWS shows
nothing of an accepted change for a while (the cluster still reads `available` with its old values),
and the engine saves nothing between the call and a crash; so, as `actions.reboot` does:

1. a first turn saves a mark (`marked_at`) and calls nothing;
2. a later turn looks for evidence of the change since the mark (the cluster shows the new values,
   has them pending, or is busy; for a reboot, a restart event of a member); with none, it records the
   attempt and sends the call once;
3. a turn that finds a mark it did not just make (a run that died, perhaps right after the call) waits
   until AWS's quiet moment is surely over (`LAG_SETTLE_SECONDS`) and looks again before sending.

A process that dies right after the call and comes back within `FRESH_SECONDS` of the mark finds the
cluster in that quiet moment and sends the call again; AWS refuses it (the cluster is changing), the
engine retries later, and the next turn finds the change under way: never a second change.

A rollback's change waits the same quiet moment after the forward step's last attempt, so that it never
adopts the forward change as its own nor changes a cluster that is about to move.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rds_maint.actions.base import Action, ActionContext, ActionOutcome, Done, ImmediateAction, Retry, Wait
from rds_maint.actions.polling import POLL_SECONDS
from rds_maint.actions.reboot import FRESH_SECONDS, LAG_SETTLE_SECONDS, REBOOT_WORDS, RebootInstance
from rds_maint.errors import NeedsPerson
from rds_maint.parameters import IN_SYNC, is_pending_reboot, parameter_statuses
from rds_maint.snapshots import ClusterSnapshot
from rds_maint.steps.base import StepKind
from rds_maint.steps.multi_az_cluster import (
    MULTI_AZ_MODIFY_KINDS,
    REBOOT_MULTI_AZ_CLUSTER,
    REBOOT_MULTI_AZ_MEMBER,
    VERIFY_MULTI_AZ_CLUSTER,
    ModifyMultiAzClusterParams,
    ModifyMultiAzClusterRecord,
    MultiAzShape,
    RebootMultiAzClusterParams,
    RebootMultiAzClusterRecord,
    VerifyMultiAzClusterParams,
    VerifyMultiAzClusterRecord,
)

__all__ = [
    "MULTI_AZ_CLUSTER_ACTIONS",
    "ModifyMultiAzCluster",
    "RebootMultiAzCluster",
    "RebootMultiAzMember",
    "VerifyMultiAzCluster",
    "differences",
]

ModifyContext = ActionContext[ModifyMultiAzClusterParams, ModifyMultiAzClusterRecord]
RebootContext = ActionContext[RebootMultiAzClusterParams, RebootMultiAzClusterRecord]
BUSY = ("modifying", "upgrading", "rebooting", "failing-over", "backing-up", "maintenance")
# ClusterSnapshot.pending keys (ClusterPendingModifiedValues) per shape field; the class is never pending.
_PENDING_KEYS = {
    "storage_type": "StorageType",
    "iops": "Iops",
    "allocated_storage": "AllocatedStorage",
    "engine_version": "EngineVersion",
}


def _since(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _current(cluster: ClusterSnapshot, field: str) -> object:
    return {
        "instance_class": cluster.cluster_instance_class,
        "storage_type": cluster.storage_type,
        "iops": cluster.iops,
        "allocated_storage": cluster.allocated_storage,
        "engine_version": cluster.engine_version,
    }[field]


def differences(cluster: ClusterSnapshot, shape: MultiAzShape) -> list[str]:
    """What the cluster (and, for the class, each member) does not show yet of `shape`."""
    found = []
    for field, wanted in shape.model_dump(exclude_none=True).items():
        now = _current(cluster, field)
        if now != wanted:
            found.append(f"{field} is {now}, expected {wanted}")
    if shape.instance_class is not None:
        found += [
            f"{m.id} is {m.instance.instance_class}, expected {shape.instance_class}"
            for m in cluster.members
            if m.instance.instance_class != shape.instance_class
        ]
    return found


def _describe(shape: MultiAzShape) -> str:
    return ", ".join(f"{k}={v}" for k, v in shape.model_dump(exclude_none=True).items())


def _moving(cluster: ClusterSnapshot, shape: MultiAzShape) -> str | None:
    """What AWS shows of a change towards `shape` under way, if anything."""
    for field, key in _PENDING_KEYS.items():
        wanted = getattr(shape, field)
        if wanted is not None and cluster.pending.get(key) == wanted:
            return f"it shows {key}={wanted} pending"
    if cluster.status in BUSY:
        return f"it is {cluster.status}"
    return None


def _quiet_wait(marked: str, attempted: str | None, now: datetime, what: str) -> Retry | None:
    """A mark this turn did not just make: wait out AWS's quiet moment after a call that may have been sent."""
    quiet_from = _since(attempted) if attempted else _since(marked)
    waited = (now - quiet_from).total_seconds()
    if (attempted or waited > FRESH_SECONDS) and waited < LAG_SETTLE_SECONDS:
        return Retry(
            f"{what} may have been sent at {quiet_from:%H:%M:%S} by a turn that did not finish; looking again "
            "before sending it",
            max(1, int(LAG_SETTLE_SECONDS - waited)),
        )
    return None


class ModifyMultiAzCluster:
    """One ModifyDBCluster (ApplyImmediately) towards `target`; done when the cluster and every member show it."""

    def __init__(self, kind: StepKind[ModifyMultiAzClusterParams, ModifyMultiAzClusterRecord]) -> None:
        self.kind = kind

    def run(self, ctx: ModifyContext) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        so_far = ctx.so_far()
        target = _describe(p.target)
        if so_far.marked_at is None:
            settle = self._settle_after_forward(ctx)
            if settle is not None:
                return settle
            if not differences(cluster, p.target) and not cluster.pending and cluster.status == "available":
                ctx.note("already_done", f"Cluster {cluster.id} already has {target}")
                return Done(f"Cluster {cluster.id} already has {target}")
            if cluster.status != "available":
                return self._busy(cluster)
            ctx.keep(ModifyMultiAzClusterRecord(marked_at=ctx.now.isoformat()))
            return Retry(f"noted the time before changing {cluster.id}; changing it next", 0)
        evidence = "it shows them" if not differences(cluster, p.target) else _moving(cluster, p.target)
        if evidence:
            if so_far.attempted_at is None or so_far.seen_moving_at is None:
                ctx.note("modify_adopted", f"{cluster.id}: {evidence}; not sending ModifyDBCluster again")
            return self._waiting(ctx, cluster)
        if cluster.status != "available":
            return self._busy(cluster)
        quiet = _quiet_wait(so_far.marked_at, so_far.attempted_at, ctx.now, f"ModifyDBCluster of {cluster.id}")
        if quiet is not None:
            return quiet
        now = ctx.now.isoformat()
        ctx.keep(ModifyMultiAzClusterRecord(marked_at=now, attempted_at=now))
        t = p.target
        ctx.rds.modify_multi_az_cluster(
            cluster.id,
            instance_class=t.instance_class,
            storage_type=t.storage_type,
            iops=t.iops,
            allocated_storage=t.allocated_storage,
            engine_version=t.engine_version,
            allow_major=p.allow_major,
        )
        ctx.note(
            "modify_requested",
            f"Requested ModifyDBCluster of {cluster.id}: {target} (was {_describe(p.original)})",
            cluster_id=cluster.id,
        )
        return self._waiting(ctx, cluster)

    def _settle_after_forward(self, ctx: ModifyContext) -> Retry | None:
        """A rollback: wait until a forward ModifyDBCluster sent just before has surely started to show."""
        last: datetime | None = None
        for step in ctx.operation.steps:
            if step.id == ctx.step.id or step.action != ctx.step.action:
                continue
            record = self.kind.parse_record(step.result)
            for text in (record.attempted_at, record.marked_at):
                if text and (last is None or _since(text) > last):
                    last = _since(text)
        if last is None:
            return None
        ready = last + timedelta(seconds=LAG_SETTLE_SECONDS)
        if ctx.now >= ready:
            return None
        return Retry(
            f"a ModifyDBCluster of {ctx.params.cluster_id} may have been sent at {last:%H:%M:%S}; looking again "
            "once it shows",
            max(1, int((ready - ctx.now).total_seconds())),
        )

    def _busy(self, cluster: ClusterSnapshot) -> Retry:
        return Retry(
            f"cluster {cluster.id} is {cluster.status}; changing it once it is available", POLL_SECONDS["busy"]
        )

    def _waiting(self, ctx: ModifyContext, cluster: ClusterSnapshot) -> Wait:
        moving = _moving(cluster, ctx.params.target)
        result = None
        if moving and ctx.so_far().seen_moving_at is None:
            result = ModifyMultiAzClusterRecord(seen_moving_at=ctx.now.isoformat())
        return Wait(
            condition=f"{cluster.id} available with {_describe(ctx.params.target)} (now {cluster.status})",
            seconds=POLL_SECONDS["modify"],
            transition=self.kind.transition,
            result=result,
            progressing=moving is not None,
        )

    def check(self, ctx: ModifyContext) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        if cluster.status == "available" and not cluster.pending and not differences(cluster, p.target):
            return Done(f"Cluster {cluster.id} is available with {_describe(p.target)}")
        if cluster.status == "available" and not cluster.pending and ctx.so_far().seen_moving_at:
            quiet = (ctx.now - _since(str(ctx.so_far().seen_moving_at))).total_seconds()
            if quiet > LAG_SETTLE_SECONDS and _moving(cluster, p.target) is None:
                raise NeedsPerson(
                    f"cluster {cluster.id} ended a change but does not show {_describe(p.target)}: "
                    + "; ".join(differences(cluster, p.target))
                    + f". Check it (aws rds describe-db-clusters --db-cluster-identifier {cluster.id}), then "
                    "resume with continue to look again, or reset to this step to send the change once more"
                )
        return self._waiting(ctx, cluster)


class RebootMultiAzCluster:
    """RebootDBCluster once: every member restarts at once (writes stop while it does)."""

    kind = REBOOT_MULTI_AZ_CLUSTER

    def run(self, ctx: RebootContext) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        so_far = ctx.so_far()
        if so_far.marked_at is None:
            if p.only_if_pending and not any(is_pending_reboot(m) for m in cluster.members):
                ctx.note("already_done", f"every member of {cluster.id} reports its parameters in sync")
                return Done(f"{cluster.id} needs no reboot (parameters in sync)")
            if cluster.status != "available" or any(m.instance.status != "available" for m in cluster.members):
                return self._busy(cluster)
            ctx.keep(RebootMultiAzClusterRecord(marked_at=ctx.now.isoformat()))
            return Retry(f"noted the time before rebooting {cluster.id}; rebooting it next", 0)
        evidence = self._evidence(ctx, cluster, _since(so_far.marked_at))
        if evidence:
            ctx.note("reboot_adopted", f"{cluster.id}: {evidence}; not rebooting it again")
            return self._waiting(ctx, cluster, moving=True)
        if cluster.status != "available":
            return self._busy(cluster)
        quiet = _quiet_wait(so_far.marked_at, so_far.attempted_at, ctx.now, f"RebootDBCluster of {cluster.id}")
        if quiet is not None:
            return quiet
        now = ctx.now.isoformat()
        ctx.keep(RebootMultiAzClusterRecord(marked_at=now, attempted_at=now))
        ctx.rds.reboot_cluster(cluster.id)
        ctx.note("reboot_requested", f"Rebooting cluster {cluster.id} (every member at once)", cluster_id=cluster.id)
        return self._waiting(ctx, cluster, moving=False)

    def _busy(self, cluster: ClusterSnapshot) -> Retry:
        return Retry(
            f"cluster {cluster.id} is {cluster.status}; rebooting it once it is available", POLL_SECONDS["busy"]
        )

    def _evidence(self, ctx: RebootContext, cluster: ClusterSnapshot, since: datetime) -> str | None:
        if cluster.status == "rebooting" or any(m.instance.status == "rebooting" for m in cluster.members):
            return "it is rebooting"
        for member in cluster.members:
            for when, message in ctx.rds.instance_events(member.id, since):
                if any(word in message.lower() for word in REBOOT_WORDS):
                    return f"AWS reports '{message}' for {member.id} at {when:%H:%M:%S}"
        return None

    def _waiting(self, ctx: RebootContext, cluster: ClusterSnapshot, *, moving: bool) -> Wait:
        result = None
        if moving and ctx.so_far().seen_moving_at is None:
            result = RebootMultiAzClusterRecord(seen_moving_at=ctx.now.isoformat())
        return Wait(
            condition=f"{cluster.id} and every member restarted and available (now {cluster.status})",
            seconds=POLL_SECONDS["reboot"],
            transition="cluster_reboot",
            result=result,
            progressing=moving,
        )

    def check(self, ctx: RebootContext) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        so_far = ctx.so_far()
        busy = cluster.status != "available" or any(m.instance.status != "available" for m in cluster.members)
        if busy:
            return self._waiting(ctx, cluster, moving=True)
        if so_far.seen_moving_at is None and self._evidence(ctx, cluster, _since(str(so_far.marked_at))) is None:
            return self._waiting(ctx, cluster, moving=False)  # AWS still shows it available: not rebooted yet
        statuses = sorted({s for m in cluster.members for s in parameter_statuses(m)})
        if p.only_if_pending and any(s != IN_SYNC for s in statuses):
            raise NeedsPerson(
                f"{cluster.id} restarted, but its members' parameters report {', '.join(statuses)}, not in-sync. "
                "Check its parameter groups, then resume with continue to look again"
            )
        return Done(
            f"Cluster {cluster.id} restarted; every member is available",
            result=RebootMultiAzClusterRecord(parameter_status=statuses),
        )


class RebootMultiAzMember(RebootInstance):
    """A member's RebootDBInstance, with the Aurora reboot's rules (the cluster read once at the mark, one
    DescribeDBInstances per look, the restart event when no look saw it); never the writer (no failover). The wait
    expects a plain restart of about a minute, as an Aurora member's ("reboot"): no failover happens in it."""

    kind = REBOOT_MULTI_AZ_MEMBER


class VerifyMultiAzCluster(ImmediateAction):
    kind = VERIFY_MULTI_AZ_CLUSTER

    def run(self, ctx: ActionContext[VerifyMultiAzClusterParams, VerifyMultiAzClusterRecord]) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        problems = differences(cluster, p.expected)
        if cluster.status != "available":
            problems.append(f"cluster is {cluster.status}")
        if cluster.pending:
            problems.append(f"changes still pending: {cluster.pending}")
        for member in cluster.members:
            # storage-optimization follows a storage change and runs for hours; the member serves meanwhile.
            if member.instance.status not in ("available", "storage-optimization"):
                problems.append(f"{member.id} is {member.instance.status}")
            if member.id in p.require_in_sync and any(s != IN_SYNC for s in parameter_statuses(member)):
                problems.append(f"{member.id} parameters {', '.join(parameter_statuses(member))}, not in-sync")
        missing = sorted(set(p.rebooted) - {m.id for m in cluster.members})
        if missing:
            problems.append(f"{', '.join(missing)} no longer in the cluster")
        if problems:
            raise NeedsPerson(f"verification of {cluster.id} failed: " + "; ".join(problems))
        shown = _describe(p.expected) or "as planned"
        return Done(
            f"Cluster {cluster.id} is available with {shown}; writer {cluster.writer_id}",
            result=VerifyMultiAzClusterRecord(
                writer=cluster.writer_id,
                classes={m.id: m.instance.instance_class for m in cluster.members},
                storage_type=cluster.storage_type,
                iops=cluster.iops,
                allocated_storage=cluster.allocated_storage,
                engine_version=cluster.engine_version,
            ),
        )


# Every action of this module, registered in `rds_maint.actions.ACTIONS`.
MULTI_AZ_CLUSTER_ACTIONS: tuple[Action[Any, Any], ...] = (
    *(ModifyMultiAzCluster(kind) for kind in MULTI_AZ_MODIFY_KINDS),
    RebootMultiAzCluster(),
    RebootMultiAzMember(),
    VerifyMultiAzCluster(),
)
