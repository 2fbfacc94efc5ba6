"""After a DB instance switchover: keep the old blue instance for a while, delete the deployment, delete
the old instance (its old replicas first, then it with a final snapshot), verify.

Only what this operation's switchover made old is deleted: the instance the deployment named as its
source, renamed <name>-old..., at the version it was upgraded from, with only the replicas the
switchover renamed. Each is tagged with this operation's id before its deletion is asked for (the IAM
policy deletes only what carries it). A deletion under way is followed, never asked for again; the final
snapshot's name derives from the instance and the operation.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, ImmediateAction, Retry, Wait
from rds_maint.actions.blue_green.common import (
    BAD_STATE,
    DELETING,
    POLL,
    SWITCHOVER_COMPLETED,
    accepted,
    refused,
)
from rds_maint.actions.instance_blue_green_common import (
    instance,
    instance_problems,
    our_instance_deployment,
    proxies_of_instance,
    tag_instance_as_ours,
)
from rds_maint.errors import NeedsPerson, PersonAwsError
from rds_maint.names import final_snapshot_name
from rds_maint.snapshots import InstanceSnapshot
from rds_maint.steps.blue_green import RefusalsRecord
from rds_maint.steps.instance_blue_green import (
    CHECK_INSTANCE_PROXIES,
    DELETE_INSTANCE_BLUE_GREEN,
    DELETE_OLD_INSTANCE,
    RETAIN_OLD_INSTANCE,
    SWITCHOVER_INSTANCE_BLUE_GREEN,
    VERIFY_INSTANCE_UPGRADE,
    DeleteInstanceDeploymentParams,
    DeleteOldInstanceParams,
    DeleteOldInstanceRecord,
    InstanceSwitchoverRecord,
    RetainOldInstanceParams,
    RetainOldInstanceRecord,
    VerifyInstanceUpgradeParams,
    VerifyInstanceUpgradeRecord,
)

__all__ = [
    "DELETE_CALL",
    "SNAPSHOT_EXISTS",
    "DeleteInstanceBlueGreen",
    "DeleteOldInstance",
    "RetainOldInstance",
    "VerifyInstanceUpgrade",
]

DELETE_CALL = "DeleteBlueGreenDeployment"
SNAPSHOT_EXISTS = frozenset({"DBSnapshotAlreadyExists", "DBSnapshotAlreadyExistsFault"})
RETENTION_POLL_MAX = 3600


class RetainOldInstance:
    """Keep the old blue instance for `hours` after the switchover (a wait on the clock, not on AWS)."""

    kind = RETAIN_OLD_INSTANCE

    def run(self, ctx: ActionContext[RetainOldInstanceParams, RetainOldInstanceRecord]) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: ActionContext[RetainOldInstanceParams, RetainOldInstanceRecord]) -> ActionOutcome:
        switched = ctx.earlier(SWITCHOVER_INSTANCE_BLUE_GREEN) or InstanceSwitchoverRecord()
        at = switched.switchover_completed_at
        start = datetime.fromisoformat(at) if at else (ctx.step.started_at or ctx.now)
        until = start + timedelta(hours=ctx.params.hours)
        old = switched.old_instance_id or "the old instance"
        if ctx.now >= until:
            return Done(f"Kept {old} for {ctx.params.hours} h after the switchover")
        return Wait(
            condition=f"keeping {old} until {until:%Y-%m-%d %H:%M} UTC (old_cluster_retention_hours)",
            seconds=max(1, min(RETENTION_POLL_MAX, int((until - ctx.now).total_seconds()) + 1)),
            result=RetainOldInstanceRecord(keep_until=until.isoformat()),
            progressing=True,  # a planned wait: the operation's wait_timeout does not apply
        )


DeleteContext = ActionContext[DeleteInstanceDeploymentParams, RefusalsRecord]


class DeleteInstanceBlueGreen:
    """Clean-up: delete the switched-over deployment (never its target: that is the upgraded instance)."""

    kind = DELETE_INSTANCE_BLUE_GREEN

    def run(self, ctx: DeleteContext) -> ActionOutcome:
        deployment = our_instance_deployment(ctx)
        if deployment is None:
            ctx.note("already_done", "The Blue/Green deployment is already deleted")
            return Done("The Blue/Green deployment is deleted")
        identifier = str(deployment["BlueGreenDeploymentIdentifier"])
        status = deployment.get("Status")
        if status == DELETING:
            return self._waiting(identifier)
        if status != SWITCHOVER_COMPLETED:
            raise NeedsPerson(
                f"refusing to clean up: Blue/Green deployment {identifier} is {status}, not SWITCHOVER_COMPLETED"
            )
        try:
            # No DeleteTarget: AWS refuses the parameter, even false, once SWITCHOVER_COMPLETED (API reference).
            ctx.rds.delete_switched_over_blue_green_deployment(identifier)
        except PersonAwsError as exc:
            if exc.code not in BAD_STATE:
                raise
            now = our_instance_deployment(ctx)
            if now is None or now.get("Status") == DELETING:
                accepted(ctx, DELETE_CALL)
                return self._waiting(identifier)
            return refused(ctx, DELETE_CALL, identifier, now.get("Status"), exc)
        accepted(ctx, DELETE_CALL)
        ctx.note("blue_green_delete_requested", f"Requested deletion of Blue/Green deployment {identifier}")
        return self._waiting(identifier)

    def _waiting(self, identifier: str) -> Wait:
        return Wait(
            condition=f"Blue/Green deployment {identifier} deleted",
            seconds=POLL["delete"],
            transition="blue_green_delete",
        )

    def check(self, ctx: DeleteContext) -> ActionOutcome:
        deployment = our_instance_deployment(ctx)
        if deployment is None:
            return Done("The Blue/Green deployment is deleted")
        return self._waiting(str(deployment["BlueGreenDeploymentIdentifier"]))


OldContext = ActionContext[DeleteOldInstanceParams, DeleteOldInstanceRecord]


def _old_ids(switched: InstanceSwitchoverRecord, instance_id: str) -> tuple[str, list[str]]:
    """The old blue instance (and replicas) the switchover recorded; a refusal if none, or one not named
    for the instance."""
    old_id = switched.old_instance_id
    if not old_id:
        raise NeedsPerson("the switchover step recorded no old instance; rds-maint will not guess which to delete")
    if old_id == instance_id or not old_id.startswith(f"{instance_id}-old"):
        raise NeedsPerson(f"refusing to delete {old_id}: it is not the old blue instance of {instance_id}")
    return old_id, list(switched.old_replicas)


def _deleting(ids: list[str]) -> Wait:
    return Wait(
        condition=f"{', '.join(ids)} deleted",
        seconds=POLL["cluster_delete"],
        transition="delete",
        result=DeleteOldInstanceRecord(deleting=sorted(ids)),
    )


class DeleteOldInstance:
    """Delete the old blue read replicas (no snapshot: their data is the old instance's), then the old blue
    instance with a final snapshot. Only as the switchover left them: at the version upgraded from, no
    replica that was not part of the switchover."""

    kind = DELETE_OLD_INSTANCE

    def run(self, ctx: OldContext) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: OldContext) -> ActionOutcome:
        p = ctx.params
        switched = ctx.earlier(SWITCHOVER_INSTANCE_BLUE_GREEN) or InstanceSwitchoverRecord()
        old_id, old_replicas = _old_ids(switched, p.instance_id)
        old = ctx.rds.find_instance(old_id)
        if old is not None:
            self._refuse_if_changed(old, p.source_version, old_replicas)
        replicas = [r for r in (ctx.rds.find_instance(i) for i in old_replicas) if r is not None]
        if replicas:
            return self._delete_replicas(ctx, replicas, old_id)
        if old is None:
            return Done(
                f"The old blue instance {old_id} is deleted",
                result=DeleteOldInstanceRecord(old_instance_deleted=old_id, deleting=[]),
            )
        if old.status == "deleting":
            return _deleting([old_id])
        if old.raw.get("DeletionProtection"):
            raise NeedsPerson(
                f"the old blue instance {old.id} has deletion protection; turn it off (aws rds modify-db-instance "
                f"--db-instance-identifier {old.id} --no-deletion-protection --apply-immediately) if it may go, "
                "then resume with continue; or mark_complete to keep it"
            )
        if old.status != "available":
            return Retry(f"{old.id} is {old.status}; deleting it once it is available", POLL["cluster_delete"])
        tag_instance_as_ours(ctx, old)
        snapshot = final_snapshot_name(old.id, ctx.operation.id)
        try:
            ctx.rds.delete_instance_with_final_snapshot(old.id, snapshot)
        except PersonAwsError as exc:
            if exc.code not in SNAPSHOT_EXISTS:
                raise
            raise NeedsPerson(
                f"a DB snapshot named {snapshot} already exists, so {old.id} cannot take its final snapshot under "
                "that name; check whose it is, then delete it and resume with continue"
            ) from None
        ctx.note(
            "old_instance_delete_requested",
            f"Requested deletion of the old blue instance {old.id} with final snapshot {snapshot}",
            instance_id=old.id,
            snapshot=snapshot,
        )
        return Wait(
            condition=f"{old.id} deleted (final snapshot {snapshot})",
            seconds=POLL["cluster_delete"],
            transition="delete",
            result=DeleteOldInstanceRecord(final_snapshot=snapshot, deleting=[old.id]),
        )

    def _refuse_if_changed(self, old: InstanceSnapshot, source_version: str, old_replicas: list[str]) -> None:
        if old.status == "deleting":
            return
        if old.engine_version != source_version:
            raise NeedsPerson(
                f"refusing to delete {old.id}: it runs {old.engine_version}, not {source_version} (the old blue "
                "instance of this upgrade would)"
            )
        strangers = sorted(set(old.read_replica_ids) - set(old_replicas))
        if strangers:
            raise NeedsPerson(
                f"refusing to delete {old.id}: it has read replicas that were not part of the switchover "
                f"({', '.join(strangers)}); remove or promote them, then resume with continue"
            )

    def _delete_replicas(self, ctx: OldContext, replicas: list[InstanceSnapshot], old_id: str) -> ActionOutcome:
        busy = []
        for replica in replicas:
            if replica.status == "deleting":
                continue
            if replica.replica_source_id not in (None, old_id):
                raise NeedsPerson(
                    f"refusing to delete {replica.id}: it replicates from {replica.replica_source_id}, not from the "
                    f"old blue instance {old_id}"
                )
            if replica.status != "available":
                busy.append(f"{replica.id} is {replica.status}")
                continue
            tag_instance_as_ours(ctx, replica)
            ctx.rds.delete_instance(replica.id)
            ctx.note("delete_requested", f"Requested deletion of old read replica {replica.id}", instance=replica.id)
        wait = _deleting([r.id for r in replicas])
        if busy:
            return Wait(condition=wait.condition + f"; {'; '.join(busy)}", seconds=wait.seconds, transition="delete")
        return wait


class VerifyInstanceUpgrade(ImmediateAction):
    """The last step: the instance runs the target version with the planned shape and group, no deployment
    and no old instance are left, and the proxies checked before still target it."""

    kind = VERIFY_INSTANCE_UPGRADE

    def run(self, ctx: ActionContext[VerifyInstanceUpgradeParams, VerifyInstanceUpgradeRecord]) -> ActionOutcome:
        p = ctx.params
        found = instance(ctx.rds, p.instance_id)
        problems = instance_problems(found, p.instance_id, p.target_version)
        if p.instance_class and found.instance_class != p.instance_class:
            problems.append(f"{found.id} is {found.instance_class}, not {p.instance_class}")
        if p.storage_type and found.storage_type != p.storage_type:
            problems.append(f"{found.id} has {found.storage_type} storage, not {p.storage_type}")
        group = p.parameter_group or ""
        if group and not group.startswith("default.") and found.parameter_group != group:
            problems.append(f"{found.id} uses the DB parameter group {found.parameter_group}, not {group}")
        deployment = our_instance_deployment(ctx)
        if deployment is not None:
            problems.append(
                f"Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} still exists "
                f"({deployment.get('Status')})"
            )
        switched = ctx.earlier(SWITCHOVER_INSTANCE_BLUE_GREEN)
        old_id = switched.old_instance_id if switched else None
        if old_id and ctx.rds.find_instance(old_id) is not None:
            problems.append(f"the old blue instance {old_id} still exists")
        proxies: list[str] = []
        if p.check_proxies:
            checked = ctx.earlier(CHECK_INSTANCE_PROXIES)
            expected = {x.name for x in checked.proxies} if checked else set()
            proxies = sorted(v.name for v in proxies_of_instance(ctx.rds, found.id))
            problems += [f"RDS Proxy {name} no longer targets {found.id}" for name in sorted(expected - set(proxies))]
        if problems:
            raise NeedsPerson(f"verification of {p.instance_id} failed: " + "; ".join(problems))
        return Done(
            f"{found.id} runs {found.engine_version} ({found.instance_class}, {found.storage_type}); no deployment "
            "or old instance left" + (f"; proxies {', '.join(proxies)} target it" if proxies else ""),
            result=VerifyInstanceUpgradeRecord(
                engine_version=found.engine_version, instance_class=found.instance_class
            ),
        )
