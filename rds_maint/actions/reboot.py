"""Reboot one instance exactly once, even across crashes, and wait until it has really restarted.

RDS has no idempotency token on RebootDBInstance, and the engine saves nothing between the call and
a crash. So the action works in two turns and reads what AWS shows:

1. first turn: read the cluster once (the member, who is writer, its parameters), then note the time
   (`reboot_marked_at`) and what it saw, and save, without calling anything that changes AWS;
2. next turn, right after (within `FRESH_SECONDS` of the mark): note the attempt and call
   RebootDBInstance once (no blind retry of a lost answer). It reads nothing first: the first turn's
   look is seconds old, and in that time no reboot of ours can have happened (the call is made only
   here) and the writer cannot have moved to this member unnoticed, as the first turn refused a
   cluster that was failing over and a failover takes longer than `FRESH_SECONDS` (about 15 s on
   AWS's side, 30-60 s reported: docs/aws-behaviour.md, "Durations"). AWS itself refuses the call
   if the instance is not `available` any more (the step then retries later).

Crash windows. A turn that finds a mark it did not just make (a run that stopped after a transient
error, a refused call, or a process that died) first waits until AWS's quiet moment after a call is
surely over (`LAG_SETTLE_SECONDS`, without looking: nothing can be told before), then reads the
cluster and looks for evidence of a reboot since the mark (the instance is `rebooting`, its
parameters turned in-sync, or DescribeEvents lists its shutdown or restart) before it reboots. A run
that dies right after the call and comes back within `FRESH_SECONDS` of the mark calls again; AWS
(and the simulator) refuse a second reboot while the instance is in that quiet moment, and the step
waits until the first one shows.

The wait (`check`) looks with ONE DescribeDBInstances of the member per look, as often as the poll
policy says (never the whole cluster while it restarts: that answer grows with the cluster). The
member is back once it reads `available` after a look saw it leave, or, when no look saw it leave
(a reboot shorter than the gap between looks), after AWS reports its restart: RDS-EVENT-0004 "DB
instance shutdown" / RDS-EVENT-0006 "DB instance restarted" (RDS user guide, "Amazon RDS event
categories and event messages"), read only then, or its instance parameters in-sync again. Events
are best effort ("might be out of sequence or missing", same guide): without one, a member that never
seemed to leave keeps the step waiting, and the operation's wait timeout asks a person. When the
member had parameters `pending-reboot` (or `only_if_pending`) the wait reports them `in-sync`; it
reads the cluster (the cluster parameter group's status of the member) once, at the end, and only
when that group was the pending one.
"""

from __future__ import annotations

from datetime import datetime

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, Retry, Wait
from rds_maint.actions.checks import skip_vanished
from rds_maint.actions.polling import POLL_SECONDS, PollPolicy
from rds_maint.errors import NeedsPerson
from rds_maint.parameters import APPLYING, IN_SYNC, PENDING_REBOOT, is_pending_reboot, parameter_statuses
from rds_maint.snapshots import ClusterSnapshot, MemberSnapshot
from rds_maint.steps.cluster import REBOOT_INSTANCE, RebootInstanceParams, RebootInstanceRecord

__all__ = [
    "FRESH_SECONDS",
    "LAG_SETTLE_SECONDS",
    "REBOOT_WORDS",
    "RebootInstance",
    "is_fresh",
    "quiet_retry",
    "restart_event",
]

Context = ActionContext[RebootInstanceParams, RebootInstanceRecord]

FRESH_SECONDS = 10  # the turn right after the mark; later turns look for an earlier call first
LAG_SETTLE_SECONDS = 90  # longer than AWS shows `available` after an accepted reboot
# What DescribeEvents says of a reboot (RDS-EVENT-0004 shutdown, RDS-EVENT-0006 restarted; the wording of
# the console's messages varies a little between engines, hence the words rather than one message).
REBOOT_WORDS = ("restarted", "shutdown", "rebooted", "rebooting")
FAILING_OVER = "failing-over"


def _since(text: object) -> datetime:
    return datetime.fromisoformat(str(text))


def restart_event(events: list[tuple[datetime, str]]) -> tuple[datetime, str] | None:
    """The first event that says the instance went down or came back, if any."""
    for when, message in events:
        if any(word in message.lower() for word in REBOOT_WORDS):
            return when, message
    return None


def quiet_retry(what: str, marked: str, attempted: str | None, now: datetime) -> Retry | None:
    """A mark this turn did not just make: wait, without looking, until AWS's quiet moment after a call that may
    have been sent is surely over. None when the mark is fresh or the quiet moment is over."""
    quiet_from = _since(attempted or marked)
    waited = (now - quiet_from).total_seconds()
    if (attempted or waited > FRESH_SECONDS) and waited < LAG_SETTLE_SECONDS:
        return Retry(
            f"a reboot of {what} may have been asked for at {quiet_from:%H:%M:%S} by a turn that did not finish; "
            "looking again before rebooting",
            max(PollPolicy.min_seconds, int(LAG_SETTLE_SECONDS - waited)),
        )
    return None


def is_fresh(marked: str, attempted: str | None, now: datetime) -> bool:
    """The turn right after the mark, with no call made since: the mark's look can be trusted."""
    return attempted is None and (now - _since(marked)).total_seconds() <= FRESH_SECONDS


class RebootInstance:
    kind = REBOOT_INSTANCE

    def run(self, ctx: Context) -> ActionOutcome:
        so_far = ctx.so_far()
        marked, attempted = so_far.reboot_marked_at, so_far.reboot_attempted_at
        if marked is None:
            return self._mark(ctx)
        if is_fresh(marked, attempted, ctx.now):
            return self._reboot(ctx)
        quiet = quiet_retry(ctx.params.instance_id, marked, attempted, ctx.now)
        if quiet is not None:
            return quiet
        cluster, member = self._member(ctx)
        if isinstance(member, Done):
            return member
        evidence = self._evidence(ctx, so_far, member, _since(marked))
        if evidence:
            ctx.note("reboot_adopted", f"{member.id}: {evidence}; not rebooting it again", instance_id=member.id)
            return self._waiting(ctx, member.instance.status)
        self._refuse_writer(member)
        busy = self._busy(cluster, member)
        if busy is not None:
            return busy
        return self._reboot(ctx)

    def _mark(self, ctx: Context) -> ActionOutcome:
        """The first turn: the one read of the whole cluster this reboot makes before it calls."""
        p = ctx.params
        cluster, member = self._member(ctx)
        if isinstance(member, Done):
            return member
        if p.only_if_pending and not is_pending_reboot(member):
            ctx.note("already_done", f"{member.id} reports its parameters in sync; no reboot needed")
            return Done(f"{member.id} needs no reboot (parameters {', '.join(parameter_statuses(member))})")
        self._refuse_writer(member)
        busy = self._busy(cluster, member)
        if busy is not None:
            return busy
        ctx.keep(
            RebootInstanceRecord(
                reboot_marked_at=ctx.now.isoformat(),
                was_pending=is_pending_reboot(member),
                cluster_pending=_cluster_pending(member),
            )
        )
        return Retry(f"noted the time before rebooting {member.id}; rebooting it next", 0)

    def _member(self, ctx: Context) -> tuple[ClusterSnapshot, MemberSnapshot | Done]:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        member = cluster.member(p.instance_id)
        if member is not None:
            return cluster, member
        skipped = skip_vanished(ctx, p.instance_id, cluster.id)
        if skipped is not None:
            return cluster, skipped
        raise NeedsPerson(
            f"instance {p.instance_id} (the original writer) is no longer a member of cluster {cluster.id}"
        )

    def _reboot(self, ctx: Context) -> Wait:
        # Saved if the call fails (the engine saves after an error), lost only with the process.
        instance_id = ctx.params.instance_id
        now = ctx.now.isoformat()
        ctx.keep(RebootInstanceRecord(reboot_marked_at=now, reboot_attempted_at=now))
        ctx.rds.reboot_instance(instance_id)
        ctx.note("reboot_requested", f"Rebooting {instance_id}", instance_id=instance_id)
        return self._waiting(ctx, "available, restarting shortly")

    def _refuse_writer(self, member: MemberSnapshot) -> None:
        if member.is_writer:
            raise NeedsPerson(
                f"refusing to reboot {member.id}: it is the cluster's writer, and a reboot would stop writes. "
                "Fail over to another instance first, then resume with continue"
            )

    def _busy(self, cluster: ClusterSnapshot, member: MemberSnapshot) -> Retry | None:
        if member.instance.status != "available":
            return Retry(
                f"{member.id} is {member.instance.status}; rebooting it once it is available", POLL_SECONDS["busy"]
            )
        if cluster.status == FAILING_OVER:
            # Who is writer moves at the end of a failover: reboot once it is over, never a writer-to-be.
            return Retry(f"cluster {cluster.id} is failing over; rebooting {member.id} after it", POLL_SECONDS["busy"])
        return None

    def _evidence(
        self, ctx: Context, so_far: RebootInstanceRecord, member: MemberSnapshot, since: datetime
    ) -> str | None:
        """What AWS shows of a reboot since `since`, if anything."""
        if member.instance.status == "rebooting":
            return "it is rebooting"
        if so_far.was_pending and not is_pending_reboot(member):
            return "its parameters are in sync again, so it has restarted"
        restart = restart_event(ctx.rds.instance_events(member.id, since))
        return f"AWS reports '{restart[1]}' at {restart[0]:%H:%M:%S}" if restart else None

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

    def _not_yet(self, ctx: Context, what: str) -> Wait:
        wait = self._waiting(ctx, "available")
        return Wait(condition=f"{ctx.params.instance_id} to {what}", seconds=wait.seconds, transition=wait.transition)

    def _restarted(self, ctx: Context, so_far: RebootInstanceRecord, instance_id: str, statuses: list[str]) -> bool:
        """Whether the member, `available` now, has restarted since the call: a look saw it leave, every parameter
        group that was pending-reboot is not any more (`statuses` holds each of them), or (read only then) AWS
        reports its shutdown or restart."""
        if so_far.left_available_at:
            return True
        if so_far.was_pending and statuses and PENDING_REBOOT not in statuses:
            return True
        return restart_event(ctx.rds.instance_events(instance_id, _since(so_far.reboot_marked_at))) is not None

    def _needs_cluster(self, ctx: Context, so_far: RebootInstanceRecord) -> bool:
        """The cluster parameter group's status is read (the whole cluster) only when it was the pending one;
        a step marked before that was recorded reads it whenever parameters were pending."""
        if so_far.cluster_pending is not None:
            return so_far.cluster_pending
        return so_far.was_pending or ctx.params.only_if_pending

    def check(self, ctx: Context) -> ActionOutcome:
        p = ctx.params
        instance_id = p.instance_id
        so_far = ctx.so_far()
        instance = ctx.rds.find_instance(instance_id)  # the one read of a look
        if instance is None or instance.cluster_id != p.cluster_id:
            return self._gone(ctx, p.cluster_id)
        left = so_far.left_available_at
        if instance.status != "available":
            return self._restarting(ctx, instance.status, left)
        # Back (or not gone yet): its parameters, the cluster group's status only if that was the pending one.
        statuses = [instance.parameter_apply_status] if instance.parameter_apply_status else []
        if self._needs_cluster(ctx, so_far):
            cluster = ctx.rds.describe_cluster(p.cluster_id)
            member = cluster.member(instance_id)
            if member is None:
                return self._gone(ctx, cluster.id)
            if member.instance.status != "available":
                return self._restarting(ctx, member.instance.status, left)
            statuses = parameter_statuses(member)
        if not self._restarted(ctx, so_far, instance_id, statuses):
            # AWS shows `available` for a moment after the call: not yet rebooted (or its events were lost).
            return self._not_yet(ctx, "begin its reboot (AWS still shows it available)")
        if APPLYING in statuses:
            return self._not_yet(ctx, "finish applying its parameters")
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

    def _gone(self, ctx: Context, cluster_id: str) -> Done:
        instance_id = ctx.params.instance_id
        skipped = skip_vanished(ctx, instance_id, cluster_id)
        if skipped is not None:
            return skipped
        raise NeedsPerson(f"instance {instance_id} left cluster {cluster_id} while it was rebooting")


def _cluster_pending(member: MemberSnapshot) -> bool:
    return member.cluster_parameter_group_status == PENDING_REBOOT
