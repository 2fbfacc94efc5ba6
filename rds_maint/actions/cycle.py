"""The end of an instance cycle: promotion tiers as they were, a verification, and notes for the log."""

from __future__ import annotations

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, ImmediateAction, Retry, Wait
from rds_maint.actions.checks import missing_readers, rolling_problems
from rds_maint.actions.polling import POLL_SECONDS
from rds_maint.errors import NeedsPerson
from rds_maint.parameters import IN_SYNC, parameter_statuses
from rds_maint.snapshots import ClusterSnapshot
from rds_maint.steps.base import NoRecord
from rds_maint.steps.cluster import (
    RECORD_NOTE,
    RESTORE_PROMOTION_TIERS,
    VERIFY_INSTANCE_CYCLE,
    RecordNoteParams,
    RestorePromotionTiersParams,
    VerifyInstanceCycleParams,
    VerifyInstanceCycleRecord,
)

__all__ = ["RecordNote", "RestorePromotionTiers", "TiersContext", "VerifyInstanceCycle"]

TiersContext = ActionContext[RestorePromotionTiersParams, NoRecord]


def _tier_differences(cluster: ClusterSnapshot, tiers: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Members whose promotion tier is not the recorded one: id -> (now, recorded); gone members are left out."""
    out: dict[str, tuple[int, int]] = {}
    for instance_id, tier in tiers.items():
        member = cluster.member(instance_id)
        if member is not None and member.instance.promotion_tier != int(tier):
            out[instance_id] = (member.instance.promotion_tier, int(tier))
    return out


class RestorePromotionTiers:
    """Put back the promotion tier of each listed instance (ModifyDBInstance PromotionTier) if it changed."""

    kind = RESTORE_PROMOTION_TIERS

    def run(self, ctx: TiersContext) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        tiers = p.tiers
        missing = sorted(i for i in tiers if cluster.member(i) is None)
        if missing:
            ctx.note("tier_skipped", f"Not restoring the tier of {', '.join(missing)}: no longer in {cluster.id}")
        differences = _tier_differences(cluster, tiers)
        if not differences:
            return Done(f"Promotion tiers are as before ({', '.join(f'{k}={v}' for k, v in sorted(tiers.items()))})")
        for instance_id, (now, recorded) in sorted(differences.items()):
            member = cluster.member(instance_id)
            if member is None or member.instance.status != "available":
                status = member.instance.status if member else "gone"
                return Retry(f"{instance_id} is {status}; restoring its promotion tier once it is available", 30)
            ctx.rds.modify_instance(instance_id, promotion_tier=recorded)
            ctx.note(
                "tier_restored",
                f"Promotion tier of {instance_id}: {now} -> {recorded} (as before the operation)",
                instance_id=instance_id,
                tier=recorded,
            )
        return self._waiting(ctx)

    def _waiting(self, ctx: TiersContext) -> Wait:
        return Wait(
            condition=f"promotion tiers of {ctx.params.cluster_id} as before",
            seconds=POLL_SECONDS["modify"],
        )

    def check(self, ctx: TiersContext) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        tiers = p.tiers
        if _tier_differences(cluster, tiers):
            return self._waiting(ctx)
        busy = [m.id for m in cluster.members if m.id in tiers and m.instance.status != "available"]
        if busy:
            return self._waiting(ctx)
        return Done("Promotion tiers restored")


class VerifyInstanceCycle(ImmediateAction):
    """Writer as before, temp instance gone, tiers as before, every rebooted instance available (and in sync)."""

    kind = VERIFY_INSTANCE_CYCLE

    def run(self, ctx: ActionContext[VerifyInstanceCycleParams, VerifyInstanceCycleRecord]) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        problems = rolling_problems(ctx, cluster, p.expected_writer)
        for instance_id, (now, recorded) in sorted(_tier_differences(cluster, p.expected_tiers).items()):
            problems.append(f"{instance_id} has promotion tier {now}, expected {recorded}")
        gone = missing_readers(ctx, cluster, list(p.rebooted))
        for instance_id in p.rebooted:
            member = cluster.member(instance_id)
            if member is None:
                if instance_id not in gone:
                    problems.append(f"{instance_id} is missing")
                continue
            if member.instance.status != "available":
                problems.append(f"{instance_id} is {member.instance.status}")
            if instance_id in p.require_in_sync:
                statuses = parameter_statuses(member)
                if any(s != IN_SYNC for s in statuses):
                    problems.append(f"{instance_id} parameters are {', '.join(statuses)}")
        if problems:
            raise NeedsPerson(f"verification of {cluster.id} failed: " + "; ".join(problems))
        statuses_now = {m.id: ", ".join(parameter_statuses(m)) or "-" for m in cluster.members}
        rebooted = [i for i in p.rebooted if i not in gone]
        return Done(
            f"Cluster {cluster.id}: writer {cluster.writer_id}; rebooted {', '.join(rebooted) or 'none'}"
            + (f"; no longer in the cluster (skipped): {', '.join(gone)}" if gone else ""),
            result=VerifyInstanceCycleRecord(writer=cluster.writer_id, parameter_status=statuses_now, vanished=gone),
        )


class RecordNote(ImmediateAction):
    """A step that only writes an event (for instance: what a rollback cannot undo)."""

    kind = RECORD_NOTE

    def run(self, ctx: ActionContext[RecordNoteParams, NoRecord]) -> ActionOutcome:
        p = ctx.params
        ctx.note(p.type, p.message)
        return Done(p.message)
