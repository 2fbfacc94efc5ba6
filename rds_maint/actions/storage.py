"""Aurora cluster storage: check, change in place (ModifyDBCluster StorageType), verify.

AWS answers the change at once but keeps showing the cluster `available` with the old type for a
while; then `modifying` with `PendingModifiedValues.StorageType`; then the new type. So the change
is done only when the cluster shows the new type, nothing pending, and `available`; and a retried
`run` must recognise a change it already asked for even in that first quiet moment.
"""

from __future__ import annotations

from datetime import datetime

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, ImmediateAction, Retry, Wait
from rds_maint.actions.polling import POLL_SECONDS
from rds_maint.aurora_storage import IO_OPTIMIZED, NAMES, as_utc
from rds_maint.errors import NeedsPerson
from rds_maint.snapshots import ClusterSnapshot
from rds_maint.steps.cluster import (
    CHECK_CLUSTER_STORAGE,
    MODIFY_CLUSTER_STORAGE,
    VERIFY_CLUSTER_STORAGE,
    CheckClusterStorageParams,
    ClusterStorageRecord,
    ModifyClusterStorageParams,
    ModifyClusterStorageRecord,
    VerifyClusterStorageParams,
    VerifyClusterStorageRecord,
)

__all__ = ["CheckClusterStorage", "ModifyClusterStorage", "ModifyContext", "VerifyClusterStorage"]

ModifyContext = ActionContext[ModifyClusterStorageParams, ModifyClusterStorageRecord]


def _name(storage_type: str | None) -> str:
    return f"{storage_type} ({NAMES[storage_type]})" if storage_type in NAMES else str(storage_type)


def _settled(cluster: ClusterSnapshot, storage_type: str) -> bool:
    return (
        cluster.storage_type == storage_type and cluster.pending_storage_type is None and cluster.status == "available"
    )


class CheckClusterStorage(ImmediateAction):
    """The cluster is available and nobody else is changing its storage before we start."""

    kind = CHECK_CLUSTER_STORAGE

    def run(self, ctx: ActionContext[CheckClusterStorageParams, ClusterStorageRecord]) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        pending = cluster.pending_storage_type
        if pending and pending != p.target_storage_type:
            raise NeedsPerson(
                f"cluster {cluster.id} is changing its storage to {_name(pending)}, not to "
                f"{_name(p.target_storage_type)} as planned; check who changed it, then abort or continue"
            )
        if cluster.status != "available":
            return Retry(
                f"cluster {cluster.id} is {cluster.status}; starting once it is available", POLL_SECONDS["busy"]
            )
        return Done(
            f"Cluster {cluster.id} is available with storage {_name(cluster.storage_type)}",
            result=ClusterStorageRecord(storage_type=cluster.storage_type),
        )


class ModifyClusterStorage:
    """Set the cluster's storage type with ApplyImmediately; adopt a change AWS already accepted."""

    kind = MODIFY_CLUSTER_STORAGE

    def run(self, ctx: ModifyContext) -> ActionOutcome:
        p = ctx.params
        target = p.storage_type
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        pending = cluster.pending_storage_type
        if pending is None and cluster.storage_type == target:
            if cluster.status != "available":
                return self._waiting(ctx, cluster)
            quiet = self._still_confirming(ctx)
            if quiet is not None:
                return quiet
            ctx.note("already_done", f"Cluster {cluster.id} already has storage {_name(target)}")
            return Done(f"Cluster {cluster.id} already has storage {_name(target)}")
        if pending == target:
            ctx.note("modify_adopted", f"Cluster {cluster.id} is already changing its storage to {_name(target)}")
            return self._waiting(ctx, cluster)
        if target == IO_OPTIMIZED and self._switch_accepted(ctx, cluster):
            # AWS moved IOOptimizedNextAllowedModificationTime: it accepted our switch, which does not show yet.
            ctx.note(
                "modify_adopted",
                f"AWS already accepted the switch of {cluster.id} to {_name(target)} (the next switch is allowed "
                f"from {cluster.io_optimized_next_allowed}); waiting for it to show",
            )
            return self._waiting(ctx, cluster)
        if pending is not None:
            return Retry(
                f"cluster {cluster.id} is changing its storage to {_name(pending)}; switching to {_name(target)} "
                "once that change has ended",
                POLL_SECONDS["busy"],
            )
        if cluster.status != "available":
            return Retry(
                f"cluster {cluster.id} is {cluster.status}; changing its storage once it is available",
                POLL_SECONDS["busy"],
            )
        ctx.rds.modify_cluster_storage(cluster.id, target)
        ctx.note(
            "modify_requested",
            f"Requested storage change of {cluster.id} from {_name(cluster.storage_type)} to {_name(target)}",
            cluster_id=cluster.id,
            from_storage=cluster.storage_type,
            to_storage=target,
        )
        return self._waiting(ctx, cluster)

    def _still_confirming(self, ctx: ModifyContext) -> Retry | None:
        """Rollback only: the cluster reads the original type, but a change asked for just before may still
        be in AWS's quiet moment. Look again after `confirm_quiet_seconds` before calling it done."""
        quiet = ctx.params.confirm_quiet_seconds
        if quiet <= 0:
            return None
        since_text = ctx.so_far().quiet_since
        if since_text is None:
            ctx.keep(ModifyClusterStorageRecord(quiet_since=ctx.now.isoformat()))
            waited = 0.0
        else:
            waited = (ctx.now - datetime.fromisoformat(since_text)).total_seconds()
        if waited >= quiet:
            return None
        return Retry(
            f"cluster {ctx.params.cluster_id} reads {_name(ctx.params.storage_type)}; making sure no change "
            f"asked for just before is still on its way ({quiet} s)",
            max(1, int(quiet - waited)),
        )

    def _switch_accepted(self, ctx: ModifyContext, cluster: ClusterSnapshot) -> bool:
        """A switch to I/O-Optimized since the plan was made moves the next-allowed time into the future."""
        now_allowed = cluster.io_optimized_next_allowed
        if now_allowed is None or as_utc(now_allowed) <= ctx.now:
            return False
        before = ctx.params.next_allowed_before
        return before is None or as_utc(now_allowed) > as_utc(datetime.fromisoformat(before))

    def _waiting(self, ctx: ModifyContext, cluster: ClusterSnapshot) -> Wait:
        p = ctx.params
        now = f"{cluster.status}, {cluster.storage_type}"
        if cluster.pending_storage_type:
            now += f" -> {cluster.pending_storage_type}"
        return Wait(
            condition=f"{p.cluster_id} available with storage {p.storage_type} (now {now})",
            seconds=POLL_SECONDS["modify"],
            transition="storage",
        )

    def check(self, ctx: ModifyContext) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        if _settled(cluster, p.storage_type):
            return Done(f"Cluster {cluster.id} is available with storage {_name(cluster.storage_type)}")
        return self._waiting(ctx, cluster)


class VerifyClusterStorage(ImmediateAction):
    kind = VERIFY_CLUSTER_STORAGE

    def run(self, ctx: ActionContext[VerifyClusterStorageParams, VerifyClusterStorageRecord]) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        expected = p.storage_type
        problems = []
        if cluster.storage_type != expected:
            problems.append(f"storage is {_name(cluster.storage_type)}, expected {_name(expected)}")
        if cluster.pending_storage_type:
            problems.append(f"a change to {_name(cluster.pending_storage_type)} is still pending")
        if cluster.status != "available":
            problems.append(f"cluster is {cluster.status}")
        if problems:
            raise NeedsPerson(f"verification of {cluster.id} failed: " + "; ".join(problems))
        restart = list(p.restart_needed)
        message = f"Cluster {cluster.id} has storage {_name(cluster.storage_type)}"
        if restart:
            message += f"; NVMe-based {', '.join(restart)} apply it at their next restart (instance_cycle)"
        next_allowed = cluster.io_optimized_next_allowed
        return Done(
            message,
            result=VerifyClusterStorageRecord(
                storage_type=cluster.storage_type,
                io_optimized_next_allowed=as_utc(next_allowed).isoformat() if next_allowed else None,
                restart_needed=restart,
            ),
        )
