"""Step actions for storage_type_change on an RDS DB instance (ModifyDBInstance of its storage).

AWS shows an accepted storage change as PendingModifiedValues and the status `modifying`, then the new
values with the status `storage-optimization` (hours, up to days), then `available`. During all of it the
instance serves reads and writes. A second storage change is refused by AWS until 6 hours have passed and
optimization has ended.

Crash window of `ModifyDbInstanceStorage`: ModifyDBInstance has no idempotency token and nothing is saved
between the call and a crash. So the action works in two turns: it first notes the time and saves it without
calling AWS; the next turn looks for AWS's evidence of a change since then (the new values shown or pending,
the instance `modifying` or optimizing, a storage modification event) and sends the call only if there is
none and AWS's quiet moment after an earlier attempt is surely over. A call sent twice all the same is
refused by AWS (the instance is modifying, or within the 6-hour rule): the step then pauses, nothing is
changed twice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from rds_maint.actions.base import Action, ActionContext, ActionOutcome, Done, ImmediateAction, Retry, Wait
from rds_maint.actions.polling import POLL_SECONDS
from rds_maint.errors import NeedsPerson
from rds_maint.instance_storage import (
    GP3,
    OPTIMIZING,
    STORAGE_CHANGE_WORDS,
    StorageConfig,
    as_utc,
    gp3_limits,
    last_storage_change,
    next_storage_change_allowed,
    pending_storage,
    shows,
    storage_of,
)
from rds_maint.snapshots import InstanceSnapshot
from rds_maint.steps.base import NoRecord
from rds_maint.steps.db_instance_storage import (
    CHECK_DB_INSTANCE_STORAGE,
    MODIFY_DB_INSTANCE_STORAGE,
    VERIFY_DB_INSTANCE_STORAGE,
    WAIT_DB_INSTANCE_OPTIMIZATION,
    DbInstanceStorageParams,
    DbInstanceStorageRecord,
    ModifyDbInstanceStorageParams,
    ModifyDbInstanceStorageRecord,
    StorageOptimizationRecord,
)

__all__ = [
    "DB_INSTANCE_STORAGE_ACTIONS",
    "FRESH_SECONDS",
    "LAG_SETTLE_SECONDS",
    "OPTIMIZATION_PATIENCE",
    "CheckDbInstanceStorage",
    "ModifyDbInstanceStorage",
    "VerifyDbInstanceStorage",
    "WaitDbInstanceOptimization",
]

ModifyContext = ActionContext[ModifyDbInstanceStorageParams, ModifyDbInstanceStorageRecord]

FRESH_SECONDS = 10  # the turn right after the mark; later turns look for an earlier call first
LAG_SETTLE_SECONDS = 90  # longer than AWS takes to show an accepted ModifyDBInstance as pending or modifying
# How long optimization counts as progress (the wait timeout starts again at each look); past it, the operation's
# wait timeout applies and the operation pauses for a person (re:Post: optimization "stuck" for days happens).
OPTIMIZATION_PATIENCE = timedelta(hours=48)


# Statuses an instance does not leave by itself (FIELD_NOTES 5.2) or that need a person (storage-full).
_STUCK = ("failed", "incompatible-parameters", "storage-full", "inaccessible-encryption-credentials")


def _target(p: DbInstanceStorageParams) -> StorageConfig:
    return StorageConfig(p.storage_type, p.allocated_storage, p.iops, p.storage_throughput)


def _record(instance: InstanceSnapshot) -> DbInstanceStorageRecord:
    return DbInstanceStorageRecord(
        storage_type=instance.storage_type,
        allocated_storage=instance.allocated_storage,
        iops=instance.iops,
        storage_throughput=instance.storage_throughput,
        status=instance.status,
    )


def _describe(ctx: ActionContext[Any, Any], instance_id: str) -> InstanceSnapshot:
    instance = ctx.rds.find_instance(instance_id)
    if instance is None:
        raise NeedsPerson(f"DB instance {instance_id} no longer exists; nothing can be changed on it")
    return instance


def _as_aws_shows_it(instance: InstanceSnapshot, target: StorageConfig) -> StorageConfig:
    """The planned storage with what AWS fills in itself: the size kept, and gp3's fixed baseline below the
    engine's threshold (PendingModifiedValues may show Iops 3000 and StorageThroughput 125 for a gp3 change
    that gave neither: that is our change, not someone else's)."""
    size = target.allocated_storage or instance.allocated_storage
    filled = replace(target, allocated_storage=size)
    if target.storage_type == GP3 and target.iops is None and size is not None:
        limits = gp3_limits(instance.engine, size)
        if not limits.provisionable:
            filled = replace(filled, iops=limits.baseline_iops, storage_throughput=limits.baseline_throughput)
    return filled


def _ours(instance: InstanceSnapshot, target: StorageConfig, pending: StorageConfig) -> bool:
    """Whether the pending storage change is the planned one (every value AWS shows pending is planned)."""
    return shows(target, pending) or shows(_as_aws_shows_it(instance, target), pending)


def _foreign_pending(instance: InstanceSnapshot, target: StorageConfig) -> StorageConfig | None:
    """A storage change pending on the instance that is not the one planned (someone else's)."""
    pending = pending_storage(instance.pending)
    return pending if pending is not None and not _ours(instance, target, pending) else None


def _now_text(instance: InstanceSnapshot) -> str:
    text = f"{instance.status}, {storage_of(instance).text()}"
    pending = pending_storage(instance.pending)
    return f"{text}; pending {pending.text()}" if pending else text


class CheckDbInstanceStorage(ImmediateAction):
    """The instance is available and nobody else is changing its storage before we start."""

    kind = CHECK_DB_INSTANCE_STORAGE

    def run(self, ctx: ActionContext[DbInstanceStorageParams, NoRecord]) -> ActionOutcome:
        p = ctx.params
        target = _target(p)
        instance = _describe(ctx, p.instance_id)
        pending = pending_storage(instance.pending)
        if pending is not None and shows(target, pending):
            return Done(f"{instance.id} already has the planned storage change pending ({pending.text()})")
        foreign = _foreign_pending(instance, target)
        if foreign is not None:
            raise NeedsPerson(
                f"DB instance {instance.id} has another storage change pending ({foreign.text()}), not the planned "
                f"{target.text()}; check who changed it (aws rds describe-db-instances --db-instance-identifier "
                f"{instance.id}), then abort or continue"
            )
        if instance.status != "available":
            return Retry(f"{instance.id} is {instance.status}; starting once it is available", POLL_SECONDS["busy"])
        allowed = next_storage_change_allowed(
            last_storage_change(ctx.rds.instance_events(instance.id, _two_weeks(ctx)))
        )
        if allowed is not None and ctx.now < allowed and not shows(storage_of(instance), target):
            return Retry(
                f"AWS allows the next storage change of {instance.id} only from {allowed:%Y-%m-%d %H:%M} UTC "
                "(6 hours after the last one); starting then",
                max(POLL_SECONDS["busy"], min(1800, int((allowed - ctx.now).total_seconds()))),
            )
        return Done(f"{instance.id} is available with {storage_of(instance).text()}")


def _two_weeks(ctx: ActionContext[Any, Any]) -> datetime:
    return ctx.now - timedelta(days=14)


class ModifyDbInstanceStorage:
    """One ModifyDBInstance (ApplyImmediately) of the instance's storage; wait until the new storage shows."""

    kind = MODIFY_DB_INSTANCE_STORAGE

    def run(self, ctx: ModifyContext) -> ActionOutcome:
        p = ctx.params
        target = _target(p)
        instance = _describe(ctx, p.instance_id)
        so_far = ctx.so_far()
        marked = so_far.modify_marked_at
        evidence = self._evidence(ctx, instance, target, datetime.fromisoformat(marked) if marked else None)
        if evidence is not None:
            ctx.note(
                "modify_adopted",
                f"{instance.id}: {evidence}; not sending the storage change again",
                instance_id=instance.id,
            )
            ctx.keep(ModifyDbInstanceStorageRecord(adopted=True))
            return self._waiting(ctx, instance)
        foreign = _foreign_pending(instance, target)
        if foreign is not None:
            raise NeedsPerson(
                f"DB instance {instance.id} has another storage change pending ({foreign.text()}), not the planned "
                f"{target.text()}; check who changed it, then abort or continue"
            )
        if instance.status != "available":
            return Retry(
                f"{instance.id} is {instance.status}; changing its storage once it is available", POLL_SECONDS["busy"]
            )
        if marked is None:
            ctx.keep(ModifyDbInstanceStorageRecord(modify_marked_at=ctx.now.isoformat()))
            return Retry(f"noted the time before changing the storage of {instance.id}; changing it next", 0)
        attempted = so_far.modify_attempted_at
        quiet_from = datetime.fromisoformat(attempted or marked)
        waited = (ctx.now - quiet_from).total_seconds()
        if (attempted or waited > FRESH_SECONDS) and waited < LAG_SETTLE_SECONDS:
            return Retry(
                f"a storage change of {instance.id} may have been asked for at {quiet_from:%H:%M:%S} by a turn that "
                "did not finish; looking again before sending it",
                max(1, int(LAG_SETTLE_SECONDS - waited)),
            )
        now = ctx.now.isoformat()
        # Saved if the call fails (the engine saves after an error), lost only with the process.
        ctx.keep(ModifyDbInstanceStorageRecord(modify_marked_at=now, modify_attempted_at=now))
        ctx.rds.modify_instance_storage(
            instance.id,
            storage_type=p.storage_type,
            iops=p.iops,
            storage_throughput=p.storage_throughput,
            allocated_storage=p.allocated_storage if p.send_allocated_storage else None,
        )
        before = StorageConfig(p.from_storage_type, p.from_allocated_storage, p.from_iops, p.from_storage_throughput)
        ctx.note(
            "modify_requested",
            f"Requested storage change of {instance.id}: {before.text()} -> {target.text()} (ApplyImmediately)",
            instance_id=instance.id,
            from_storage_type=p.from_storage_type,
            to_storage_type=p.storage_type,
            from_allocated_storage=p.from_allocated_storage,
            to_allocated_storage=p.allocated_storage,
            from_iops=p.from_iops,
            to_iops=p.iops,
            from_storage_throughput=p.from_storage_throughput,
            to_storage_throughput=p.storage_throughput,
        )
        return self._waiting(ctx, instance)

    def _evidence(
        self, ctx: ModifyContext, instance: InstanceSnapshot, target: StorageConfig, since: datetime | None
    ) -> str | None:
        """What AWS shows of the planned change (or of one asked for since `since`), if anything."""
        pending = pending_storage(instance.pending)
        if shows(storage_of(instance), target) and pending is None:
            return f"it already shows {target.text()} ({instance.status})"
        if pending is not None and _ours(instance, target, pending):
            return f"AWS already has the change pending ({pending.text()})"
        if since is None:
            return None
        for when, message in ctx.rds.instance_events(instance.id, since):
            if STORAGE_CHANGE_WORDS in message.lower() and as_utc(when) >= as_utc(since):
                return f"AWS reports '{message}' at {when:%H:%M:%S}"
        return None

    def _waiting(self, ctx: ModifyContext, instance: InstanceSnapshot) -> Wait:
        p = ctx.params
        moving = instance.status in ("modifying", OPTIMIZING) or pending_storage(instance.pending) is not None
        return Wait(
            condition=f"{p.instance_id} shows {_target(p).text()} with nothing pending (now {_now_text(instance)})",
            seconds=POLL_SECONDS["modify"],
            transition="instance_storage",
            progressing=moving,
        )

    def check(self, ctx: ModifyContext) -> ActionOutcome:
        p = ctx.params
        target = _target(p)
        instance = _describe(ctx, p.instance_id)
        foreign = _foreign_pending(instance, target)
        if foreign is not None:
            raise NeedsPerson(
                f"DB instance {instance.id} now has another storage change pending ({foreign.text()}) besides the "
                f"planned {target.text()}; check who changed it, then abort or continue"
            )
        shown = shows(storage_of(instance), target) and pending_storage(instance.pending) is None
        if shown and instance.status in ("available", OPTIMIZING):
            return Done(
                f"{instance.id} shows {storage_of(instance).text()} ({instance.status})",
                result=ModifyDbInstanceStorageRecord(**_record(instance).model_dump()),
            )
        if instance.status in (
            "failed",
            "incompatible-parameters",
            "storage-full",
            "inaccessible-encryption-credentials",
        ):
            raise NeedsPerson(
                f"DB instance {instance.id} is {instance.status} during its storage change; check it in the RDS console"
            )
        return self._waiting(ctx, instance)


class WaitDbInstanceOptimization:
    """Wait until the instance has left `storage-optimization` (it stays available meanwhile).

    Why the plan waits for it instead of ending once the new storage shows: until optimization ends AWS refuses
    any other storage change, a Blue/Green switchover and snapshots-based follow-ups, and I/O may be slower; an
    operation that says `completed` should leave the instance in its ordinary state.
    """

    kind = WAIT_DB_INSTANCE_OPTIMIZATION

    def run(self, ctx: ActionContext[DbInstanceStorageParams, StorageOptimizationRecord]) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: ActionContext[DbInstanceStorageParams, StorageOptimizationRecord]) -> ActionOutcome:
        p = ctx.params
        instance = _describe(ctx, p.instance_id)
        seen = ctx.so_far().optimization_seen or instance.status == OPTIMIZING
        if instance.status == "available" and pending_storage(instance.pending) is None:
            message = (
                f"{instance.id} has finished storage optimization"
                if seen
                else f"{instance.id} is available with no storage optimization under way"
            )
            return Done(
                message,
                result=StorageOptimizationRecord(
                    **_record(instance).model_dump(), optimization_seen=seen, optimization_ended_at=ctx.now.isoformat()
                ),
            )
        if instance.status not in (OPTIMIZING, "modifying", "backing-up", "configuring-enhanced-monitoring"):
            raise NeedsPerson(
                f"DB instance {instance.id} is {instance.status} while its storage is being optimized; check it in "
                "the RDS console, then continue or abort"
            )
        if seen and not ctx.so_far().optimization_seen:
            ctx.keep(StorageOptimizationRecord(optimization_seen=True))
        since = ctx.waiting_since or ctx.now
        return Wait(
            condition=f"{p.instance_id} out of storage-optimization (now {instance.status}); it stays available, "
            "I/O may be slower meanwhile",
            seconds=300,
            transition="instance_storage_optimization",
            progressing=instance.status == OPTIMIZING and ctx.now - since < OPTIMIZATION_PATIENCE,
        )


class VerifyDbInstanceStorage(ImmediateAction):
    kind = VERIFY_DB_INSTANCE_STORAGE

    def run(self, ctx: ActionContext[DbInstanceStorageParams, DbInstanceStorageRecord]) -> ActionOutcome:
        p = ctx.params
        target = _target(p)
        instance = _describe(ctx, p.instance_id)
        problems = []
        if not shows(storage_of(instance), target):
            problems.append(f"storage is {storage_of(instance).text()}, expected {target.text()}")
        pending = pending_storage(instance.pending)
        if pending is not None:
            problems.append(f"a storage change is still pending ({pending.text()})")
        if instance.status != "available":
            problems.append(f"the instance is {instance.status}")
        if problems:
            raise NeedsPerson(f"verification of {instance.id} failed: " + "; ".join(problems))
        return Done(f"{instance.id} has {storage_of(instance).text()}, nothing pending", result=_record(instance))


# Every action of this module, registered in `rds_maint.actions.ACTIONS`.
DB_INSTANCE_STORAGE_ACTIONS: tuple[Action[Any, Any], ...] = (
    CheckDbInstanceStorage(),
    ModifyDbInstanceStorage(),
    WaitDbInstanceOptimization(),
    VerifyDbInstanceStorage(),
)
