"""Abort or rollback of a DB instance Blue/Green upgrade.

Before the switchover: delete the deployment *and* the green instance with its green replicas
(DeleteTarget), after tagging them as this operation's (the IAM policy deletes only tagged instances;
green copies blue's tags, not ours). After it: AWS cannot switch back, so the old blue instance is kept;
rollback explains how to go back and pauses (`plans.db_instance_upgrade.rollback_limits` says it before
the answer is accepted).
"""

from __future__ import annotations

from typing import Any

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, Wait
from rds_maint.actions.blue_green.common import (
    BAD_STATE,
    DELETING,
    POLL,
    PROVISIONING,
    SWITCHOVER_COMPLETED,
    SWITCHOVER_IN_PROGRESS,
    accepted,
    refused,
    tasks,
)
from rds_maint.actions.instance_blue_green_common import members, our_instance_deployment, tag_instance_as_ours
from rds_maint.actions.instance_blue_green_switchover import old_names
from rds_maint.actions.records import arn_name
from rds_maint.errors import NeedsPerson, PersonAwsError
from rds_maint.steps.instance_blue_green import (
    CREATE_INSTANCE_BLUE_GREEN,
    DELETE_OLD_INSTANCE,
    SWITCHOVER_INSTANCE_BLUE_GREEN,
    UNWIND_INSTANCE_BLUE_GREEN,
    InstanceUnwindParams,
    InstanceUnwindRecord,
)

__all__ = ["DELETE_CALL", "UnwindInstanceBlueGreen"]

Context = ActionContext[InstanceUnwindParams, InstanceUnwindRecord]
DELETE_CALL = "DeleteBlueGreenDeployment"


class UnwindInstanceBlueGreen:
    kind = UNWIND_INSTANCE_BLUE_GREEN

    def run(self, ctx: Context) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: Context) -> ActionOutcome:
        p = ctx.params
        deployment = our_instance_deployment(ctx)
        if deployment is not None:
            return self._unwind(ctx, deployment)
        created = ctx.earlier(CREATE_INSTANCE_BLUE_GREEN)
        green_id = ctx.so_far().green_instance_id or (created.green_instance_id if created else None)
        if green_id and green_id != p.instance_id and ctx.rds.find_instance(green_id) is not None:
            return self._waiting("the deployment", green_id)
        found = ctx.rds.find_instance(p.instance_id)
        version = found.engine_version if found else "(gone)"
        if found is not None and version == p.target_version and p.target_version != p.source_version:
            return self._after_switchover(ctx, None)
        return Done(
            f"No Blue/Green deployment left; {p.instance_id} runs {version}"
            + (f"; green instance {green_id} deleted" if green_id else "")
        )

    def _unwind(self, ctx: Context, deployment: dict[str, Any]) -> ActionOutcome:
        identifier = str(deployment["BlueGreenDeploymentIdentifier"])
        status = deployment.get("Status")
        green = arn_name(str(deployment.get("Target", "")))
        if status == SWITCHOVER_COMPLETED:
            return self._after_switchover(ctx, deployment)
        if status == SWITCHOVER_IN_PROGRESS:
            return Wait(
                condition=f"the switchover of {identifier} to end", seconds=POLL["switchover"], transition="switchover"
            )
        if status == DELETING:
            return self._waiting(identifier, green)
        if status == PROVISIONING and ctx.so_far().refused_while_provisioning:
            return self._provisioning(deployment, "AWS refused to delete it while PROVISIONING")
        self._prepare_green(ctx, deployment, green)
        try:
            ctx.rds.delete_blue_green_deployment(identifier, delete_target=True)
        except PersonAwsError as exc:
            if exc.code not in BAD_STATE:
                raise
            now = our_instance_deployment(ctx)
            if now is None or now.get("Status") == DELETING:  # an earlier call of ours took effect
                accepted(ctx, DELETE_CALL)
                return self._waiting(identifier, green)
            if now.get("Status") == PROVISIONING:
                ctx.keep(InstanceUnwindRecord(refused_while_provisioning=True))
                return self._provisioning(now, f"AWS: {exc.aws_message}")
            return refused(ctx, DELETE_CALL, identifier, now.get("Status"), exc)
        accepted(ctx, DELETE_CALL)
        ctx.note(
            "blue_green_delete_requested",
            f"Requested deletion of Blue/Green deployment {identifier} and its green instance {green}",
            deployment_id=identifier,
            green_instance_id=green,
        )
        return self._waiting(identifier, green)

    def _prepare_green(self, ctx: Context, deployment: dict[str, Any], green_id: str) -> None:
        """Only the green copies of *this* deployment, never blue: tag them as ours; pause on deletion
        protection (green copies it from blue, and DeleteTarget fails while it is on)."""
        instance_id = ctx.params.instance_id
        source = arn_name(str(deployment.get("Source", "")))
        if not green_id or green_id == instance_id or source != instance_id:
            raise NeedsPerson(
                f"refusing to delete the target of Blue/Green deployment "
                f"{deployment['BlueGreenDeploymentIdentifier']}: its green instance {green_id or '(none)'} is not a "
                f"green copy of {instance_id}"
            )
        greens = [green_id] + [g for g in members(deployment, "TargetMember") if g not in (green_id, instance_id)]
        for name in greens:
            found = ctx.rds.find_instance(name)
            if found is None:
                continue
            if found.raw.get("DeletionProtection"):
                raise NeedsPerson(
                    f"the green instance {name} of this operation's deployment has deletion protection (copied from "
                    f"{instance_id}), which keeps AWS from deleting it. Run: aws rds modify-db-instance "
                    f"--db-instance-identifier {name} --no-deletion-protection --apply-immediately --region "
                    f"{ctx.operation.region} ; then resume with continue ({instance_id} keeps its own)"
                )
            tag_instance_as_ours(ctx, found)

    def _provisioning(self, deployment: dict[str, Any], why: str) -> Wait:
        return Wait(
            condition=f"{deployment['BlueGreenDeploymentIdentifier']} to finish PROVISIONING ({tasks(deployment)}) "
            f"before it is deleted ({why})",
            seconds=POLL["provisioning"],
            transition="instance_blue_green_create",
            progressing=True,
        )

    def _waiting(self, what: str, green: str) -> Wait:
        return Wait(
            condition=f"{what} and green instance {green} deleted",
            seconds=POLL["delete"],
            result=InstanceUnwindRecord(green_instance_id=green),
            transition="blue_green_delete_target",
        )

    def _after_switchover(self, ctx: Context, deployment: dict[str, Any] | None) -> ActionOutcome:
        p = ctx.params
        name = p.instance_id
        switched = ctx.earlier(SWITCHOVER_INSTANCE_BLUE_GREEN)
        old_id = (
            (old_names(deployment, name)[0] if deployment else None)
            or (switched.old_instance_id if switched else None)
            or p.old_instance_id
            or f"{name}-old1"
        )
        found = ctx.rds.find_instance(name)
        version = found.engine_version if found else "(gone)"
        old = ctx.rds.find_instance(old_id)
        left = f" and deployment {deployment['BlueGreenDeploymentIdentifier']} remains" if deployment else ""
        if p.kind == "abort":
            return Done(
                f"The switchover had happened: {name} runs {version}; "
                + (f"the old blue instance {old_id} is kept" if old else f"the old blue instance {old_id} is gone")
                + left
            )
        if version == p.source_version:
            return Done(f"{name} runs {version} again (switched back by hand)")
        if old is not None:
            where = f"The old blue instance {old_id} ({old.engine_version}) is kept, unchanged since the switchover"
        else:
            deleted = ctx.earlier(DELETE_OLD_INSTANCE)
            snapshot = deleted.final_snapshot if deleted else None
            where = f"The old blue instance {old_id} no longer exists" + (
                f"; its final snapshot is {snapshot} (restore-db-instance-from-db-snapshot)" if snapshot else ""
            )
        raise NeedsPerson(
            f"Rollback after the switchover: {name} already runs {version}, and AWS cannot switch a Blue/Green "
            f"deployment back. {where}. Writes made since the switchover exist only on {name}. To go back: stop "
            f"writes; rename {name} (aws rds modify-db-instance --db-instance-identifier {name} "
            f"--new-db-instance-identifier {name}-upgraded --apply-immediately), then rename {old_id} to {name} "
            f"(and each old replica back to its name without -old1); check that RDS Proxy targets {name}; copy any "
            f"data written since the switchover. Then resume with continue (rds-maint checks {name} runs "
            f"{p.source_version} and ends rolled_back), or mark_complete to end here"
            + (f". The deployment {deployment['BlueGreenDeploymentIdentifier']} is left as it is" if deployment else "")
        )
