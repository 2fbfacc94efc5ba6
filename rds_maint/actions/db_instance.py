"""Step actions for RDS DB instances: check, class change, reboot, in-place upgrade, verify.

Every change is look-before-act, because a crash between the AWS call and the save runs `run` again:

- class change: the class already shows (or is pending, or the instance is `modifying` to it) -> adopted,
  never sent twice. ModifyDBInstance carries no token, but sending the same class again while it is pending
  would be refused or be a no-op; we never find out, as we never send it.
- reboot: RebootDBInstance is *sent once* (the gateway never resends it). Two turns, as in
  `actions.reboot`: the first notes the time and saves; the next looks for a reboot since then (the
  instance `rebooting`, an event, the primary in the other zone after a forced failover, parameters
  in-sync again) before it sends. A mark it did not just make waits out AWS's quiet moment first.
- in-place upgrade: the new version already shows (or is pending, or the instance is `upgrading`) -> adopted.

A Multi-AZ change or reboot moves the primary to the standby's zone: the action records the zones before
and after and the failover events AWS reported, and says in an event that the primary moved (the endpoint
name stays; its address now points to the other zone).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rds_maint.actions.base import Action, ActionContext, ActionOutcome, Done, ImmediateAction, Retry, Wait
from rds_maint.actions.polling import POLL_SECONDS
from rds_maint.actions.reboot import REBOOT_WORDS, is_fresh, quiet_retry
from rds_maint.errors import NeedsPerson
from rds_maint.parameters import APPLYING, IN_SYNC, PENDING_REBOOT
from rds_maint.snapshots import InstanceSnapshot
from rds_maint.steps.base import NoRecord, StepKind
from rds_maint.steps.db_instance import (
    CHECK_DB_INSTANCE,
    MODIFY_DB_INSTANCE_CLASS,
    MODIFY_DB_INSTANCE_CLASS_OFFLINE,
    REBOOT_DB_INSTANCE,
    REBOOT_DB_INSTANCE_OFFLINE,
    UPGRADE_DB_INSTANCE_IN_PLACE,
    VERIFY_DB_INSTANCE,
    CheckDbInstanceParams,
    DbInstanceClassParams,
    DbInstanceClassRecord,
    DbInstanceRebootParams,
    DbInstanceRebootRecord,
    DbInstanceUpgradeParams,
    DbInstanceUpgradeRecord,
    FailoverSeenRecord,
    VerifyDbInstanceParams,
    VerifyDbInstanceRecord,
)

__all__ = [
    "DB_INSTANCE_ACTIONS",
    "CheckDbInstance",
    "ModifyDbInstanceClass",
    "RebootDbInstance",
    "UpgradeDbInstanceInPlace",
    "VerifyDbInstance",
]

FAILOVER_WORDS = ("failover", "failed over")
# An upgrade AWS gave up on (its pre-check found a blocker): the instance stays on its version, available.
UPGRADE_FAILED_WORDS = ("failed", "cannot", "could not", "incompatib")
CheckContext = ActionContext[CheckDbInstanceParams, NoRecord]
ClassContext = ActionContext[DbInstanceClassParams, DbInstanceClassRecord]
RebootContext = ActionContext[DbInstanceRebootParams, DbInstanceRebootRecord]
UpgradeContext = ActionContext[DbInstanceUpgradeParams, DbInstanceUpgradeRecord]
VerifyContext = ActionContext[VerifyDbInstanceParams, VerifyDbInstanceRecord]


def _instance(ctx: ActionContext[Any, Any], instance_id: str) -> InstanceSnapshot:
    found = ctx.rds.find_instance(instance_id)
    if found is None:
        raise NeedsPerson(
            f"DB instance {instance_id} no longer exists (aws rds describe-db-instances --db-instance-identifier "
            f"{instance_id}); nothing more is done to it"
        )
    return found


def _pending(instance: InstanceSnapshot) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(instance.pending.items())) or "nothing"


def _zones(instance: InstanceSnapshot) -> str:
    standby = f", standby in {instance.secondary_availability_zone}" if instance.secondary_availability_zone else ""
    return f"primary in {instance.availability_zone or 'an unknown zone'}{standby}"


Events = list[tuple[datetime, str]]


def _read_events(ctx: ActionContext[Any, Any], instance_id: str, since: str | None) -> Events:
    """One DescribeEvents of the instance since `since` (nothing read without a mark)."""
    return [] if since is None else ctx.rds.instance_events(instance_id, datetime.fromisoformat(since))


def _events_since(
    ctx: ActionContext[Any, Any],
    instance_id: str,
    since: str | None,
    words: tuple[str, ...],
    events: Events | None = None,
) -> list[str]:
    """The events since `since` that say one of `words` (from `events` when the caller has read them)."""
    if since is None:
        return []
    rows = _read_events(ctx, instance_id, since) if events is None else events
    return [f"{when:%H:%M:%S} {message}" for when, message in rows if any(word in message.lower() for word in words)]


def _failover_window(
    ctx: ActionContext[Any, Any], instance_id: str, since: str | None, events: Events | None = None
) -> dict[str, str]:
    """When AWS reported the failover began and ended (its first and last failover event since `since`): the
    stop of writes the run summary measures, rather than the whole step. Empty when AWS reported fewer than
    two (events are best effort: RDS events documentation)."""
    if since is None:
        return {}
    rows = _read_events(ctx, instance_id, since) if events is None else events
    times = [when for when, message in rows if any(word in message.lower() for word in FAILOVER_WORDS)]
    if len(times) < 2:
        return {}
    return {"failover_started_at": min(times).isoformat(), "failover_ended_at": max(times).isoformat()}


def _zones_before(instance: InstanceSnapshot) -> FailoverSeenRecord:
    return FailoverSeenRecord(
        zone_before=instance.availability_zone, standby_zone_before=instance.secondary_availability_zone
    )


def _say_where_the_primary_is(
    ctx: ActionContext[Any, Any],
    instance: InstanceSnapshot,
    so_far: FailoverSeenRecord,
    since: str | None,
    read: Events | None = None,
) -> FailoverSeenRecord:
    """Record the zones after a Multi-AZ step and the failover AWS reported; one event says what clients saw.
    The instance's events are read once (or given as `read`), for the failover's messages and its window."""
    read = _read_events(ctx, instance.id, since) if read is None else read
    events = _events_since(ctx, instance.id, since, FAILOVER_WORDS, read)
    after = FailoverSeenRecord(
        zone_after=instance.availability_zone,
        standby_zone_after=instance.secondary_availability_zone,
        failover_events=events,
    )
    before, now = so_far.zone_before, instance.availability_zone
    if before and now and before != now:
        ctx.note(
            "primary_moved",
            f"{instance.id}: the primary moved from {before} to {now} (failover to the standby"
            + (f"; AWS: {events[-1]}" if events else "")
            + f"). The endpoint {instance.endpoint or instance.id} keeps its name; its address now points to "
            f"{now}: clients reconnect",
            instance_id=instance.id,
            zone_before=before,
            zone_after=now,
            **_failover_window(ctx, instance.id, since, read),
        )
    elif events or before is None:
        ctx.note(
            "failover_reported",
            f"{instance.id}: "
            + (f"AWS reported a failover ({events[-1]})" if events else "the zone before was not recorded")
            + f"; the primary reads {_zones(instance)}",
            instance_id=instance.id,
        )
    else:
        ctx.note(
            "no_failover_seen",
            f"{instance.id}: no failover seen (primary still in {now or 'an unknown zone'}, no failover event)",
            instance_id=instance.id,
        )
    return after


# -- check --------------------------------------------------------------------------------------------


class CheckDbInstance(ImmediateAction):
    """The instance is still as planned: available, the same Multi-AZ setting, class and version, no change
    pending that the operation would send on top of."""

    kind = CHECK_DB_INSTANCE

    def run(self, ctx: CheckContext) -> ActionOutcome:
        p = ctx.params
        instance = _instance(ctx, p.instance_id)
        if instance.status != "available":
            return Retry(f"{instance.id} is {instance.status}; starting once it is available", POLL_SECONDS["busy"])
        problems = []
        if instance.multi_az != p.multi_az:
            now = "Multi-AZ" if instance.multi_az else "Single-AZ"
            problems.append(f"it is {now} now (planned {'Multi-AZ' if p.multi_az else 'Single-AZ'})")
        if instance.instance_class != p.instance_class:
            problems.append(f"its class is {instance.instance_class} (planned on {p.instance_class})")
        if instance.engine_version != p.engine_version:
            problems.append(f"its engine version is {instance.engine_version} (planned on {p.engine_version})")
        if instance.pending:
            problems.append(f"it has modifications pending ({_pending(instance)})")
        if problems:
            raise NeedsPerson(
                f"DB instance {instance.id} changed since the plan was made: {'; '.join(problems)}. Abort and plan "
                "again (rds-maint plan ...), as the plan's interruptions may no longer hold"
            )
        return Done(f"{instance.id} is available as planned ({instance.instance_class}, {_zones(instance)})")


# -- class change ----------------------------------------------------------------------------------------


class ModifyDbInstanceClass:
    """ModifyDBInstance DBInstanceClass, applied immediately, sent once. Multi-AZ: RDS changes the standby,
    fails over to it, then changes the old primary; Single-AZ: the instance is down for the change."""

    def __init__(self, kind: StepKind[DbInstanceClassParams, DbInstanceClassRecord]) -> None:
        self.kind = kind

    def run(self, ctx: ClassContext) -> ActionOutcome:
        p = ctx.params
        instance = _instance(ctx, p.instance_id)
        so_far = ctx.so_far()
        if instance.instance_class == p.instance_class and not instance.pending.get("DBInstanceClass"):
            if so_far.requested_at is None:
                ctx.note("already_done", f"{instance.id} already has class {p.instance_class}")
            else:
                ctx.note("modify_adopted", f"{instance.id} already shows class {p.instance_class}; not sent again")
            return self._waiting(ctx, instance)
        if instance.pending.get("DBInstanceClass") == p.instance_class:
            ctx.note("modify_adopted", f"{instance.id} is already being changed to {p.instance_class}; not sent again")
            return self._waiting(ctx, instance)
        if instance.status != "available":
            return Retry(f"{instance.id} is {instance.status}; changing its class once it is available", 30)
        record = DbInstanceClassRecord(requested_at=ctx.now.isoformat(), **_zones_before(instance).model_dump())
        ctx.keep(record)
        ctx.rds.modify_instance(instance.id, instance_class=p.instance_class)
        how = "the standby first, then a failover" if p.multi_az else "the instance is down until it is done"
        ctx.note(
            "modify_requested",
            f"Requested class change of {instance.id} to {p.instance_class} ({how})",
            target=p.instance_class,
        )
        return self._waiting(ctx, instance)

    def _waiting(self, ctx: ClassContext, instance: InstanceSnapshot) -> Wait:
        p = ctx.params
        return Wait(
            condition=f"{p.instance_id} available with class {p.instance_class} and nothing pending "
            f"(now {instance.status}, {instance.instance_class})",
            seconds=POLL_SECONDS["modify"],
            transition="instance_class",
        )

    def check(self, ctx: ClassContext) -> ActionOutcome:
        p = ctx.params
        instance = _instance(ctx, p.instance_id)
        done = not instance.pending.get("DBInstanceClass")  # other pending values are the verify step's to report
        if instance.status == "available" and instance.instance_class == p.instance_class and done:
            result = DbInstanceClassRecord()
            if p.multi_az:
                seen = _say_where_the_primary_is(ctx, instance, ctx.so_far(), ctx.so_far().requested_at)
                result = DbInstanceClassRecord(**seen.model_dump(exclude_unset=True))
            return Done(f"{instance.id} is available with class {instance.instance_class} ({_zones(instance)})", result)
        if instance.status in ("failed", "incompatible-parameters", "incompatible-network", "storage-full"):
            raise NeedsPerson(
                f"{instance.id} is {instance.status} during its class change to {p.instance_class}: look at its "
                f"events (aws rds describe-events --source-type db-instance --source-identifier {instance.id})"
            )
        return self._waiting(ctx, instance)


# -- reboot ----------------------------------------------------------------------------------------------


class RebootDbInstance:
    """RebootDBInstance once (ForceFailover for a Multi-AZ instance), then wait until it restarted.

    As `actions.reboot`: the first turn reads the instance once and marks; the turn right after calls without
    reading again; each look of the wait is one DescribeDBInstances, and DescribeEvents is read only when the
    looks never saw the instance leave `available` (and once at the end of a Multi-AZ reboot, to say where the
    primary went and when the failover ran).
    """

    def __init__(self, kind: StepKind[DbInstanceRebootParams, DbInstanceRebootRecord]) -> None:
        self.kind = kind
        # How long the wait is expected to take (polling.EXPECTED_SECONDS): with ForceFailover, the failover
        # ("instance_reboot"); without (a Single-AZ instance), a plain restart of about a minute, as an Aurora
        # member's ("reboot"; docs/aws-behaviour.md, DB instances, "Reboot": `rebooting` ~60 s, ~90 s with failover).
        self._transition = "instance_reboot" if kind is not REBOOT_DB_INSTANCE_OFFLINE else "reboot"

    def run(self, ctx: RebootContext) -> ActionOutcome:
        p = ctx.params
        so_far = ctx.so_far()
        marked, attempted = so_far.reboot_marked_at, so_far.reboot_attempted_at
        if marked is None:
            instance = _instance(ctx, p.instance_id)
            pending = instance.parameter_apply_status == PENDING_REBOOT
            if p.only_if_pending and not pending:
                ctx.note("already_done", f"{instance.id} reports its parameters {instance.parameter_apply_status}")
                return Done(f"{instance.id} needs no reboot (parameters {instance.parameter_apply_status})")
            if instance.status != "available":
                return self._busy(instance)
            ctx.keep(
                DbInstanceRebootRecord(
                    reboot_marked_at=ctx.now.isoformat(), was_pending=pending, **_zones_before(instance).model_dump()
                )
            )
            return Retry(f"noted the time before rebooting {instance.id}; rebooting it next", 0)
        if is_fresh(marked, attempted, ctx.now):
            return self._reboot(ctx, "available")  # the mark's look is seconds old; AWS refuses a busy instance
        quiet = quiet_retry(p.instance_id, marked, attempted, ctx.now)
        if quiet is not None:
            return quiet
        instance = _instance(ctx, p.instance_id)
        evidence = self._evidence(ctx, so_far, instance, marked)
        if evidence:
            ctx.note("reboot_adopted", f"{instance.id}: {evidence}; not rebooting it again", instance_id=instance.id)
            return self._waiting(instance.id, instance.status)
        if instance.status != "available":
            return self._busy(instance)
        return self._reboot(ctx, instance.status)

    def _reboot(self, ctx: RebootContext, status: str) -> Wait:
        p = ctx.params
        now = ctx.now.isoformat()
        ctx.keep(DbInstanceRebootRecord(reboot_marked_at=now, reboot_attempted_at=now))
        ctx.rds.reboot_instance(p.instance_id, force_failover=p.force_failover)
        how = "with a failover to the standby" if p.force_failover else "down until it has restarted"
        ctx.note("reboot_requested", f"Rebooting {p.instance_id} ({how})", instance_id=p.instance_id)
        return self._waiting(p.instance_id, status)

    def _busy(self, instance: InstanceSnapshot) -> Retry:
        return Retry(f"{instance.id} is {instance.status}; rebooting it once it is available", POLL_SECONDS["busy"])

    def _evidence(
        self, ctx: RebootContext, so_far: DbInstanceRebootRecord, instance: InstanceSnapshot, since: str
    ) -> str | None:
        """What AWS shows of a reboot since `since`, if anything."""
        if instance.status == "rebooting":
            return "it is rebooting"
        if so_far.was_pending and instance.parameter_apply_status == IN_SYNC:
            return "its parameters are in sync again, so it has restarted"
        if ctx.params.force_failover and so_far.zone_before and instance.availability_zone != so_far.zone_before:
            return f"its primary moved from {so_far.zone_before} to {instance.availability_zone}"
        events = _events_since(ctx, instance.id, since, REBOOT_WORDS + FAILOVER_WORDS)
        return f"AWS reports '{events[0]}'" if events else None

    def _waiting(self, instance_id: str, status: str, what: str | None = None) -> Wait:
        return Wait(
            condition=f"{instance_id} to {what or 'restart and be available again'} (now {status})",
            seconds=POLL_SECONDS["reboot"],
            transition=self._transition,
        )

    def check(self, ctx: RebootContext) -> ActionOutcome:
        p = ctx.params
        so_far = ctx.so_far()
        instance = _instance(ctx, p.instance_id)  # the one read of a look
        if instance.status != "available":
            wait = self._waiting(instance.id, instance.status)
            left = so_far.left_available_at or ctx.now.isoformat()
            return Wait(
                wait.condition,
                wait.seconds,
                transition=wait.transition,
                result=DbInstanceRebootRecord(left_available_at=left),
            )
        moved = bool(so_far.zone_before) and instance.availability_zone != so_far.zone_before
        seen = (
            bool(so_far.left_available_at)
            or moved
            or (so_far.was_pending and instance.parameter_apply_status == IN_SYNC)
        )
        # Events only when the looks saw nothing, or to report a Multi-AZ failover: read once either way.
        events = _read_events(ctx, instance.id, so_far.reboot_marked_at) if p.force_failover or not seen else []
        if not seen and not _events_since(ctx, instance.id, so_far.reboot_marked_at, REBOOT_WORDS, events):
            # AWS shows `available` for a moment after the call: not rebooted yet (or its events were lost).
            return self._waiting(instance.id, instance.status, "begin its reboot (AWS still shows it available)")
        status = instance.parameter_apply_status
        if status == APPLYING:
            return self._waiting(instance.id, instance.status, "finish applying its parameters")
        if (p.only_if_pending or so_far.was_pending) and status != IN_SYNC:
            raise NeedsPerson(
                f"{instance.id} restarted, but its parameters report {status}, not in-sync. Check its parameter "
                f"group (aws rds describe-db-instances --db-instance-identifier {instance.id}, DBParameterGroups), "
                "then resume with continue to look again, or reset to this step to reboot it once more"
            )
        result = DbInstanceRebootRecord(parameter_status=status)
        if p.force_failover:
            where = _say_where_the_primary_is(ctx, instance, so_far, so_far.reboot_marked_at, events)
            result = DbInstanceRebootRecord(parameter_status=status, **where.model_dump(exclude_unset=True))
        shown = f" (parameters {status})" if status else ""
        return Done(f"{instance.id} restarted and is available{shown}, {_zones(instance)}", result)


# -- in-place upgrade --------------------------------------------------------------------------------------


class UpgradeDbInstanceInPlace:
    """ModifyDBInstance EngineVersion (AllowMajorVersionUpgrade for a major), applied immediately, sent once:
    the instance (primary and standby together) is down until the upgrade ends. No way back once sent."""

    kind = UPGRADE_DB_INSTANCE_IN_PLACE

    def run(self, ctx: UpgradeContext) -> ActionOutcome:
        p = ctx.params
        instance = _instance(ctx, p.instance_id)
        so_far = ctx.so_far()
        if instance.engine_version == p.engine_version:
            what = "already_done" if so_far.requested_at is None else "upgrade_adopted"
            ctx.note(what, f"{instance.id} already runs {instance.engine} {p.engine_version}; not sent again")
            return self._waiting(instance)
        if instance.pending.get("EngineVersion") == p.engine_version or instance.status == "upgrading":
            ctx.note("upgrade_adopted", f"{instance.id} is already upgrading to {p.engine_version}; not sent again")
            return self._waiting(instance)
        if instance.engine_version != p.original_version:
            raise NeedsPerson(
                f"{instance.id} runs {instance.engine_version}, neither the planned {p.original_version} nor the "
                f"target {p.engine_version}: someone changed it. Abort and plan again"
            )
        if instance.status != "available":
            return Retry(f"{instance.id} is {instance.status}; upgrading it once it is available", POLL_SECONDS["busy"])
        ctx.keep(DbInstanceUpgradeRecord(requested_at=ctx.now.isoformat()))
        ctx.rds.upgrade_instance_in_place(
            instance.id, engine_version=p.engine_version, allow_major=p.allow_major, parameter_group=p.parameter_group
        )
        ctx.note(
            "upgrade_requested",
            f"Upgrading {instance.id} in place from {p.original_version} to {p.engine_version}"
            + (" (major version)" if p.allow_major else "")
            + ": down until the upgrade ends",
            instance_id=instance.id,
        )
        return self._waiting(instance)

    def _waiting(self, instance: InstanceSnapshot) -> Wait:
        return Wait(
            condition=f"{instance.id} upgraded and available (now {instance.status}, {instance.engine_version})",
            seconds=POLL_SECONDS["modify"],
            transition="instance_upgrade",
        )

    def check(self, ctx: UpgradeContext) -> ActionOutcome:
        p = ctx.params
        instance = _instance(ctx, p.instance_id)
        if (
            instance.status == "available"
            and instance.engine_version == p.engine_version
            and not instance.pending.get("EngineVersion")
        ):
            return Done(f"{instance.id} runs {instance.engine} {instance.engine_version} and is available")
        if instance.status == "available" and instance.engine_version == p.original_version and not instance.pending:
            requested = ctx.so_far().requested_at
            if requested and _events_since(ctx, instance.id, requested, UPGRADE_FAILED_WORDS):
                raise NeedsPerson(
                    f"{instance.id} is available on {p.original_version}: the upgrade to {p.engine_version} did not "
                    "happen. Read its events and logs (aws rds describe-events --source-type db-instance "
                    f"--source-identifier {instance.id}; the log file upgrade...), fix the cause, then abort"
                )
        if instance.status in ("failed", "incompatible-parameters", "incompatible-network"):
            raise NeedsPerson(
                f"{instance.id} is {instance.status} during its upgrade to {p.engine_version}: look at its events "
                f"(aws rds describe-events --source-type db-instance --source-identifier {instance.id})"
            )
        return self._waiting(instance)


# -- verify ------------------------------------------------------------------------------------------------


class VerifyDbInstance(ImmediateAction):
    """The end state: available, the class / version asked for, nothing pending, parameters in-sync."""

    kind = VERIFY_DB_INSTANCE

    def run(self, ctx: VerifyContext) -> ActionOutcome:
        p = ctx.params
        instance = _instance(ctx, p.instance_id)
        if instance.status != "available":
            return Retry(f"{instance.id} is {instance.status}; verifying once it is available", POLL_SECONDS["busy"])
        problems = []
        if p.instance_class and instance.instance_class != p.instance_class:
            problems.append(f"class {instance.instance_class}, expected {p.instance_class}")
        if p.engine_version and instance.engine_version != p.engine_version:
            problems.append(f"engine version {instance.engine_version}, expected {p.engine_version}")
        if p.multi_az is not None and instance.multi_az != p.multi_az:
            problems.append(f"MultiAZ {instance.multi_az}, expected {p.multi_az}")
        if p.parameter_group and instance.parameter_group != p.parameter_group:
            problems.append(f"parameter group {instance.parameter_group}, expected {p.parameter_group}")
        if instance.pending:
            problems.append(f"modifications pending ({_pending(instance)})")
        if p.require_in_sync and instance.parameter_apply_status not in (None, IN_SYNC):
            problems.append(f"parameters {instance.parameter_apply_status}, expected in-sync")
        if problems:
            raise NeedsPerson(
                f"DB instance {instance.id} is not as expected: {'; '.join(problems)}. Look at it (aws rds "
                f"describe-db-instances --db-instance-identifier {instance.id}), then continue or roll back"
            )
        record = VerifyDbInstanceRecord(
            instance_class=instance.instance_class,
            engine_version=instance.engine_version,
            availability_zone=instance.availability_zone,
            parameter_status=instance.parameter_apply_status,
        )
        return Done(
            f"{instance.id} is available: {instance.instance_class}, {instance.engine} {instance.engine_version}, "
            f"{_zones(instance)}",
            record,
        )


# Every action of this module, registered in `rds_maint.actions.ACTIONS`.
DB_INSTANCE_ACTIONS: tuple[Action[Any, Any], ...] = (
    CheckDbInstance(),
    ModifyDbInstanceClass(MODIFY_DB_INSTANCE_CLASS),
    ModifyDbInstanceClass(MODIFY_DB_INSTANCE_CLASS_OFFLINE),
    RebootDbInstance(REBOOT_DB_INSTANCE),
    RebootDbInstance(REBOOT_DB_INSTANCE_OFFLINE),
    UpgradeDbInstanceInPlace(),
    VerifyDbInstance(),
)
