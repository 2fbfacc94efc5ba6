"""Instance actions: create the temp instance, change a class, delete the temp instance.

A temp instance whose creation ends in a failure status (FAILED_STATUSES) never becomes
`available` by itself, but AWS lets it be deleted: the create step pauses with the status and the
unwind (abort, rollback, the engine's final clean-up) deletes it.
"""

from __future__ import annotations

from typing import Any

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, Retry, Wait
from rds_maint.actions.checks import skip_vanished
from rds_maint.actions.polling import POLL_SECONDS
from rds_maint.errors import NeedsPerson, PersonAwsError
from rds_maint.snapshots import TAG_OPERATION_ID, InstanceSnapshot
from rds_maint.steps.base import NoRecord
from rds_maint.steps.cluster import (
    CREATE_TEMP_INSTANCE,
    DELETE_TEMP_INSTANCE,
    MODIFY_INSTANCE_CLASS,
    CreateTempInstanceParams,
    DeleteTempInstanceParams,
    ModifyInstanceClassParams,
    SkippableRecord,
)

__all__ = [
    "FAILED_STATUSES",
    "CreateContext",
    "CreateTempInstance",
    "DeleteContext",
    "DeleteTempInstance",
    "ModifyContext",
    "ModifyInstanceClass",
]

# DB instance statuses AWS does not leave by itself ("DB instance status", Aurora user guide): only a
# deletion (DeleteDBInstance, SkipFinalSnapshot) or a person's fix ends them.
FAILED_STATUSES = frozenset(
    {
        "failed",
        "incompatible-network",
        "incompatible-option-group",
        "incompatible-parameters",
        "incompatible-restore",
        "inaccessible-encryption-credentials",
    }
)


CreateContext = ActionContext[CreateTempInstanceParams, NoRecord]
ModifyContext = ActionContext[ModifyInstanceClassParams, SkippableRecord]
DeleteContext = ActionContext[DeleteTempInstanceParams, NoRecord]


def _ours(ctx: ActionContext[Any, Any], instance: InstanceSnapshot) -> bool:
    return instance.operation_tag == ctx.operation.id


class CreateTempInstance:
    """Create (or adopt) the temp instance: the deterministic name makes a retry find the first one."""

    kind = CREATE_TEMP_INSTANCE

    def _adopt(self, ctx: CreateContext, instance: InstanceSnapshot) -> ActionOutcome:
        if not _ours(ctx, instance):
            raise NeedsPerson(
                f"instance {instance.id} already exists but is not tagged "
                f"{TAG_OPERATION_ID}={ctx.operation.id} (tag: {instance.operation_tag or 'none'}); "
                "rds-maint will not use or delete it. Rename or remove it, then resume with continue"
            )
        ctx.note("temp_instance_adopted", f"Temp instance {instance.id} already exists; adopting it")
        return self._waiting(ctx)

    def _waiting(self, ctx: CreateContext) -> Wait:
        p = ctx.params
        return Wait(
            condition=f"{p.instance_id} available with class {p.instance_class}",
            seconds=POLL_SECONDS["create"],
            transition="create",
            instance_class=p.instance_class,
        )

    def run(self, ctx: CreateContext) -> ActionOutcome:
        p = ctx.params
        existing = ctx.rds.find_instance(p.instance_id)
        if existing is not None:
            return self._adopt(ctx, existing)
        tags = dict(p.tags)
        tags[TAG_OPERATION_ID] = ctx.operation.id
        try:
            ctx.rds.create_cluster_instance(
                instance_id=p.instance_id,
                cluster_id=p.cluster_id,
                engine=p.engine,
                instance_class=p.instance_class,
                promotion_tier=p.promotion_tier,
                availability_zone=p.availability_zone,
                parameter_group=p.parameter_group,
                tags=tags,
                settings=dict(p.settings),
            )
        except PersonAwsError as exc:
            if exc.code not in ("DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"):
                raise
            found = ctx.rds.find_instance(p.instance_id)
            if found is None:
                return Retry(f"{p.instance_id} reported as existing but not visible yet", POLL_SECONDS["busy"])
            return self._adopt(ctx, found)
        ctx.note("temp_instance_created", f"Created temp instance {p.instance_id}", **{"id": p.instance_id})
        return self._waiting(ctx)

    def check(self, ctx: CreateContext) -> ActionOutcome:
        p = ctx.params
        instance = ctx.rds.find_instance(p.instance_id)
        if instance is None:
            raise NeedsPerson(f"temp instance {p.instance_id} disappeared while it was being created")
        if instance.status == "available" and instance.instance_class == p.instance_class:
            return Done(f"Temp instance {instance.id} is available ({instance.instance_class})")
        if instance.status in FAILED_STATUSES:
            raise NeedsPerson(
                f"temp instance {instance.id} ended '{instance.status}' instead of available: AWS will not make it "
                "available by itself (see its RDS events: aws rds describe-events --source-type db-instance "
                f"--source-identifier {instance.id}). Answer abort (or rollback): rds-maint deletes it and the "
                "cluster is left as it was; then fix the cause (parameter group, subnets, KMS key) before a new "
                "operation"
            )
        return Wait(
            condition=f"{instance.id} available with class {p.instance_class} (now {instance.status})",
            seconds=POLL_SECONDS["create"],
            transition="create",
            instance_class=p.instance_class,
        )


class ModifyInstanceClass:
    """Change one instance's class with ApplyImmediately; never the current writer."""

    kind = MODIFY_INSTANCE_CLASS

    def run(self, ctx: ModifyContext) -> ActionOutcome:
        p = ctx.params
        target = p.instance_class
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        member = cluster.member(p.instance_id)
        if member is None:
            skipped = skip_vanished(ctx, p.instance_id, cluster.id)
            if skipped is not None:
                return skipped
            raise NeedsPerson(
                f"instance {p.instance_id} (the original writer) is no longer a member of cluster {cluster.id}"
            )
        instance = member.instance
        if instance.instance_class == target and instance.pending_class is None and instance.status == "available":
            ctx.note("already_done", f"{instance.id} already has class {target}")
            return Done(f"{instance.id} already has class {target}")
        if instance.pending_class == target:
            ctx.note("modify_adopted", f"{instance.id} is already being changed to {target}")
            return self._waiting(ctx, instance.status)
        if member.is_writer:
            raise NeedsPerson(
                f"refusing to change {instance.id}: it is the cluster's writer, and changing it would make "
                "Aurora fail over on its own. Fail over to another instance first, then resume with continue"
            )
        if instance.status != "available":
            return Retry(f"{instance.id} is {instance.status}; waiting until it is available", POLL_SECONDS["busy"])
        ctx.rds.modify_instance(instance.id, instance_class=target)
        ctx.note("modify_requested", f"Requested class change of {instance.id} to {target}", target=target)
        return self._waiting(ctx, instance.status)

    def _waiting(self, ctx: ModifyContext, status: str) -> Wait:
        p = ctx.params
        return Wait(
            condition=f"{p.instance_id} available with class {p.instance_class} (now {status})",
            seconds=POLL_SECONDS["modify"],
            transition="modify",
            instance_class=p.instance_class,
        )

    def check(self, ctx: ModifyContext) -> ActionOutcome:
        p = ctx.params
        instance = ctx.rds.find_instance(p.instance_id)
        if instance is None:
            skipped = skip_vanished(ctx, p.instance_id, p.cluster_id)
            if skipped is not None:
                return skipped
            raise NeedsPerson(f"instance {p.instance_id} disappeared while its class was being changed")
        if (
            instance.status == "available"
            and instance.instance_class == p.instance_class
            and instance.pending_class is None
        ):
            return Done(f"{instance.id} is available with class {instance.instance_class}")
        return self._waiting(ctx, instance.status)


class DeleteTempInstance:
    """Delete the temp instance: only ours (by tag), never the writer; missing counts as deleted."""

    kind = DELETE_TEMP_INSTANCE

    def run(self, ctx: DeleteContext) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        member = cluster.member(p.instance_id)
        instance = member.instance if member else ctx.rds.find_instance(p.instance_id)
        if instance is None:
            ctx.note("already_done", f"{p.instance_id} does not exist; nothing to delete")
            return Done(f"{p.instance_id} does not exist")
        if not _ours(ctx, instance):
            raise NeedsPerson(
                f"refusing to delete {instance.id}: it is not tagged {TAG_OPERATION_ID}={ctx.operation.id}"
            )
        if instance.status == "deleting":
            return self._waiting(ctx)
        if member is not None and member.is_writer:
            raise NeedsPerson(
                f"refusing to delete {instance.id}: it is the cluster's writer. Fail back to "
                f"{ctx.operation.context.get('original_writer')} first, then resume with continue"
            )
        if instance.status != "available" and instance.status not in FAILED_STATUSES:
            return Retry(f"{instance.id} is {instance.status}; waiting until it can be deleted", POLL_SECONDS["busy"])
        ctx.rds.delete_instance(instance.id)
        ctx.note("delete_requested", f"Requested deletion of temp instance {instance.id}")
        return self._waiting(ctx)

    def _waiting(self, ctx: DeleteContext) -> Wait:
        return Wait(condition=f"{ctx.params.instance_id} deleted", seconds=POLL_SECONDS["delete"], transition="delete")

    def check(self, ctx: DeleteContext) -> ActionOutcome:
        instance = ctx.rds.find_instance(ctx.params.instance_id)
        if instance is None:
            return Done(f"{ctx.params.instance_id} is deleted")
        return Wait(
            condition=f"{instance.id} deleted (now {instance.status})",
            seconds=POLL_SECONDS["delete"],
            transition="delete",
        )
