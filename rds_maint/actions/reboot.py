"""Reboot one instance exactly once, even across crashes, and wait until it has really restarted.

RDS has no idempotency token on RebootDBInstance, and the engine saves nothing between the call and
a crash. So the action works in two turns and reads what AWS shows:

1. first turn: note the time (`reboot_marked_at`) and save it, without calling AWS;
2. next turn: look for evidence of a reboot since that time (the instance is `rebooting`, or
   DescribeEvents lists its shutdown or restart); if there is none, note the attempt and call
   RebootDBInstance once (no blind retry of a lost answer).

A turn that finds a mark it did not just make (a run that stopped after a transient error, or a
process that died) waits until AWS's quiet moment after the call is surely over (`LAG_SETTLE_SECONDS`)
and looks again before it reboots. A run that dies right after the call and comes back within
`FRESH_SECONDS` finds the instance in that quiet moment; AWS (and the simulator) then refuse a second
reboot as the instance is not available, and the step waits until the first one shows.

The wait (`check`) first sees the instance leave `available` (or a restart event) and then come back,
and, when the member had parameters `pending-reboot` (or `only_if_pending`), report them `in-sync`.
"""

from __future__ import annotations

from datetime import datetime

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, Retry, Wait
from rds_maint.actions.checks import skip_vanished
from rds_maint.actions.polling import POLL_SECONDS
from rds_maint.errors import NeedsPerson
from rds_maint.parameters import APPLYING, IN_SYNC, is_pending_reboot, parameter_statuses
from rds_maint.snapshots import MemberSnapshot
from rds_maint.steps.cluster import REBOOT_INSTANCE, RebootInstanceParams, RebootInstanceRecord

__all__ = ["FRESH_SECONDS", "LAG_SETTLE_SECONDS", "REBOOT_WORDS", "RebootInstance"]

Context = ActionContext[RebootInstanceParams, RebootInstanceRecord]

FRESH_SECONDS = 10  # the turn right after the mark; later turns look for an earlier call first
LAG_SETTLE_SECONDS = 90  # longer than AWS shows `available` after an accepted reboot
REBOOT_WORDS = ("restarted", "shutdown", "rebooted", "rebooting")


def _since(text: object) -> datetime:
    return datetime.fromisoformat(str(text))


class RebootInstance:
    kind = REBOOT_INSTANCE

    def run(self, ctx: Context) -> ActionOutcome:
        p = ctx.params
        instance_id = p.instance_id
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        member = cluster.member(instance_id)
        if member is None:
            skipped = skip_vanished(ctx, instance_id, cluster.id)
            if skipped is not None:
                return skipped
            raise NeedsPerson(
                f"instance {instance_id} (the original writer) is no longer a member of cluster {cluster.id}"
            )
        so_far = ctx.so_far()
        marked = so_far.reboot_marked_at
        if marked is None:
            if p.only_if_pending and not is_pending_reboot(member):
                ctx.note("already_done", f"{instance_id} reports its parameters in sync; no reboot needed")
                return Done(f"{instance_id} needs no reboot (parameters {', '.join(parameter_statuses(member))})")
            self._refuse_writer(member)
            if member.instance.status != "available":
                return self._busy(member)
            ctx.keep(RebootInstanceRecord(reboot_marked_at=ctx.now.isoformat(), was_pending=is_pending_reboot(member)))
            return Retry(f"noted the time before rebooting {instance_id}; rebooting it next", 0)

        evidence = self._evidence(ctx, so_far, member, _since(marked))
        if evidence:
            ctx.note("reboot_adopted", f"{instance_id}: {evidence}; not rebooting it again", instance_id=instance_id)
            return self._waiting(ctx, member.instance.status)
        self._refuse_writer(member)
        if member.instance.status != "available":
            return self._busy(member)
        attempted = so_far.reboot_attempted_at
        quiet_from = _since(attempted) if attempted else _since(marked)
        waited = (ctx.now - quiet_from).total_seconds()
        if (attempted or waited > FRESH_SECONDS) and waited < LAG_SETTLE_SECONDS:
            return Retry(
                f"a reboot of {instance_id} may have been asked for at {quiet_from:%H:%M:%S} by a turn that did not "
                "finish; looking again before rebooting",
                max(1, int(LAG_SETTLE_SECONDS - waited)),
            )
        # Saved if the call fails (the engine saves after an error), lost only with the process.
        now = ctx.now.isoformat()
        ctx.keep(RebootInstanceRecord(reboot_marked_at=now, reboot_attempted_at=now))
        ctx.rds.reboot_instance(instance_id)
        ctx.note("reboot_requested", f"Rebooting {instance_id}", instance_id=instance_id)
        return self._waiting(ctx, member.instance.status)

    def _refuse_writer(self, member: MemberSnapshot) -> None:
        if member.is_writer:
            raise NeedsPerson(
                f"refusing to reboot {member.id}: it is the cluster's writer, and a reboot would stop writes. "
                "Fail over to another instance first, then resume with continue"
            )

    def _busy(self, member: MemberSnapshot) -> Retry:
        return Retry(
            f"{member.id} is {member.instance.status}; rebooting it once it is available", POLL_SECONDS["busy"]
        )

    def _evidence(
        self, ctx: Context, so_far: RebootInstanceRecord, member: MemberSnapshot, since: datetime
    ) -> str | None:
        """What AWS shows of a reboot since `since`, if anything."""
        if member.instance.status == "rebooting":
            return "it is rebooting"
        if so_far.was_pending and not is_pending_reboot(member):
            return "its parameters are in sync again, so it has restarted"
        restart = self._restart_event(ctx, member.id, since)
        return f"AWS reports '{restart[1]}' at {restart[0]:%H:%M:%S}" if restart else None

    def _restart_event(self, ctx: Context, instance_id: str, since: datetime) -> tuple[datetime, str] | None:
        for when, message in ctx.rds.instance_events(instance_id, since):
            if any(word in message.lower() for word in REBOOT_WORDS):
                return when, message
        return None

    def _waiting(self, ctx: Context, status: str) -> Wait:
        instance_id = ctx.params.instance_id
        return Wait(
            condition=f"{instance_id} to restart and be available again (now {status})",
            seconds=POLL_SECONDS["reboot"],
            transition="reboot",
        )

    def _restarting(self, ctx: Context, status: str, left: str | None) -> Wait:
        wait = self._waiting(ctx, status)
        return Wait(
            condition=wait.condition,
            seconds=wait.seconds,
            transition=wait.transition,
            result=RebootInstanceRecord(left_available_at=left or ctx.now.isoformat()),
        )

    def check(self, ctx: Context) -> ActionOutcome:
        p = ctx.params
        instance_id = p.instance_id
        so_far = ctx.so_far()
        # While it restarts one DescribeDBInstances per look; the whole cluster only once it is back.
        instance = ctx.rds.find_instance(instance_id)
        status = instance.status if instance is not None else "available"
        left = so_far.left_available_at
        if status != "available":
            return self._restarting(ctx, status, left)
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        member = cluster.member(instance_id)
        if member is None:
            skipped = skip_vanished(ctx, instance_id, cluster.id)
            if skipped is not None:
                return skipped
            raise NeedsPerson(f"instance {instance_id} left cluster {cluster.id} while it was rebooting")
        if member.instance.status != "available":
            return self._restarting(ctx, member.instance.status, left)
        if not left and self._restart_event(ctx, instance_id, _since(so_far.reboot_marked_at)) is None:
            # AWS shows `available` for a moment after the call: not yet rebooted.
            return Wait(
                condition=f"{instance_id} to begin its reboot (AWS still shows it available)",
                seconds=POLL_SECONDS["reboot"],
                transition="reboot",
            )
        statuses = parameter_statuses(member)
        if APPLYING in statuses:
            return Wait(
                condition=f"{instance_id} to finish applying its parameters",
                seconds=POLL_SECONDS["reboot"],
                transition="reboot",
            )
        if (p.only_if_pending or so_far.was_pending) and any(s != IN_SYNC for s in statuses):
            raise NeedsPerson(
                f"{instance_id} restarted, but its parameters report {', '.join(statuses)}, not in-sync. Check its "
                "parameter groups (DescribeDBInstances DBParameterGroups, DescribeDBClusters DBClusterMembers), "
                "then resume with continue to look again, or reset to this step to reboot it once more"
            )
        shown = f" (parameters {', '.join(statuses)})" if statuses else ""
        return Done(
            f"{instance_id} restarted and is available{shown}", result=RebootInstanceRecord(parameter_status=statuses)
        )
