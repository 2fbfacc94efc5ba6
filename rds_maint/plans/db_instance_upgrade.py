"""engine_upgrade of an RDS DB instance through Blue/Green (the default method).

validate -> prepare the parameter group -> proxy pre-check -> [wait 5 min for a new group to settle]
-> create Blue/Green (with the Target* settings) -> wait green (out of storage-optimization)
-> (pause) switchover -> verify proxies -> [keep the old instance] -> (pause) delete the deployment
-> delete the old instance NAME-old1 (final snapshot) -> verify.

The same shape, pauses and answers as the Aurora upgrade (`plans.engine_upgrade`). Pure: the preflight
(`planning.db_instance_upgrade_preflight`) has looked at AWS and hands its findings over as
`DbInstanceBlueGreenFacts`. Names derive from the instance and the operation, so a retried step finds
what it made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rds_maint.model import EngineUpgradeParams, Operation, Step, StepState
from rds_maint.names import deployment_name
from rds_maint.plans.base import Plan, StepBuilder, narrowed
from rds_maint.plans.engine_upgrade import PAUSE_BEFORE_CLEANUP, PAUSE_BEFORE_SWITCHOVER, ProxyFound
from rds_maint.plans.rollback import TOUCHED
from rds_maint.snapshots import InstanceSnapshot
from rds_maint.steps.base import StepKind
from rds_maint.steps.blue_green import (
    DELETE_PARAMETER_GROUPS,
    PREPARE_PARAMETER_GROUPS,
    WAIT_PARAMETER_GROUPS_SETTLE,
    ClusterStepParams,
    DeleteParameterGroupsParams,
    GroupPlan,
    GroupSpec,
    GroupToDelete,
    PrepareParameterGroupsParams,
)
from rds_maint.steps.instance_blue_green import (
    CHECK_INSTANCE_PROXIES,
    CHECK_INSTANCE_UPGRADE_READY,
    CREATE_INSTANCE_BLUE_GREEN,
    DELETE_INSTANCE_BLUE_GREEN,
    DELETE_OLD_INSTANCE,
    RETAIN_OLD_INSTANCE,
    SWITCHOVER_INSTANCE_BLUE_GREEN,
    UNWIND_INSTANCE_BLUE_GREEN,
    VERIFY_INSTANCE_PROXIES,
    VERIFY_INSTANCE_UPGRADE,
    WAIT_INSTANCE_GREEN,
    CreateInstanceBlueGreenParams,
    DeleteInstanceDeploymentParams,
    DeleteOldInstanceParams,
    InstanceStepParams,
    InstanceSwitchoverParams,
    InstanceUnwindParams,
    InstanceUpgradeReadyParams,
    RetainOldInstanceParams,
    TargetSettingValue,
    VerifyInstanceUpgradeParams,
    WaitInstanceGreenParams,
)

__all__ = [
    "DbInstanceBlueGreenFacts",
    "old_instance_name",
    "plan_db_instance_blue_green",
    "rollback_limits",
    "unwind_db_instance_blue_green",
]


def old_instance_name(instance_id: str) -> str:
    """What the switchover renames blue to (AWS appends -old1)."""
    return f"{instance_id}-old1"


@dataclass(frozen=True)
class DbInstanceBlueGreenFacts:
    """What the preflight found that the plan needs beyond the snapshot."""

    instance_arn: str
    source_version: str
    target_version: str
    source_family: str
    target_family: str
    major_upgrade: bool
    parameter_group: GroupPlan
    # CreateBlueGreenDeployment Target* keys and values, as checked by the preflight
    target_settings: tuple[tuple[str, TargetSettingValue], ...] = ()
    replicas: tuple[str, ...] = ()
    proxies: tuple[ProxyFound, ...] = ()
    notes: tuple[str, ...] = field(default=())


def plan_db_instance_blue_green(
    instance: InstanceSnapshot, params: EngineUpgradeParams, operation_id: str, given: object
) -> Plan:
    facts = narrowed(given, DbInstanceBlueGreenFacts)
    builder = StepBuilder()
    deployment = deployment_name(instance.id, operation_id)
    _before_switchover(builder, instance, params, facts, deployment)
    _switchover_and_after(builder, instance, params, facts, deployment)
    pause_before = []
    if params.pause_before_switchover:
        pause_before.append(PAUSE_BEFORE_SWITCHOVER)
    if params.pause_before_cleanup:
        pause_before.append(PAUSE_BEFORE_CLEANUP)
    group = facts.parameter_group
    context: dict[str, Any] = {
        "source_version": facts.source_version,
        "target_version": params.target_engine_version,
        "deployment_name": deployment,
        "instance_arn": facts.instance_arn,
        "parameter_groups": {"instance": group.model_dump(mode="json", exclude_unset=True)},
        "target_settings": dict(facts.target_settings),
        "replicas": list(facts.replicas),
        "proxies": [p.name for p in facts.proxies],
        "old_instance_id": old_instance_name(instance.id),
    }
    return Plan(steps=builder.steps, notes=_notes(instance, params, facts), context=context, pause_before=pause_before)


def _settings_text(settings: tuple[tuple[str, TargetSettingValue], ...]) -> str:
    return ", ".join(f"{key.removeprefix('Target')}={value}" for key, value in settings)


def _before_switchover(
    builder: StepBuilder,
    instance: InstanceSnapshot,
    params: EngineUpgradeParams,
    facts: DbInstanceBlueGreenFacts,
    deployment: str,
) -> None:
    source, target, group = facts.source_version, params.target_engine_version, facts.parameter_group
    builder.step(
        CHECK_INSTANCE_UPGRADE_READY,
        InstanceUpgradeReadyParams(
            instance_id=instance.id, instance_arn=facts.instance_arn, source_version=source, target_version=target
        ),
        name="validate",
        description=f"Check that {instance.id} is available at {source} and has no other Blue/Green deployment",
    )
    builder.step(
        PREPARE_PARAMETER_GROUPS,
        PrepareParameterGroupsParams(
            cluster_id=instance.id, groups=[GroupSpec(kind="instance", **group.model_dump(exclude_unset=True))]
        ),
        name="prepare_parameter_groups",
        description=f"DB parameter group for {target}: {_describe_group(group)}",
    )
    if not params.skip_proxy_retarget:
        builder.step(
            CHECK_INSTANCE_PROXIES,
            InstanceStepParams(instance_id=instance.id),
            name="check_proxies",
            description=f"Check that every RDS Proxy targeting {instance.id} is healthy before the deployment is "
            "created",
        )
    if group.mode == "copy":
        builder.step(
            WAIT_PARAMETER_GROUPS_SETTLE,
            ClusterStepParams(cluster_id=instance.id),
            name="settle_parameter_groups",
            description=f"Wait 5 min for the new parameter group {group.target} to settle, counted from when it "
            "was created or last changed, before the green instance uses it (AWS asks for it)",
        )
    settings = _settings_text(facts.target_settings)
    builder.step(
        CREATE_INSTANCE_BLUE_GREEN,
        CreateInstanceBlueGreenParams(
            instance_id=instance.id,
            instance_arn=facts.instance_arn,
            deployment_name=deployment,
            target_version=target,
            instance_parameter_group=group.target,
            target_settings=dict(facts.target_settings),
        ),
        name="create_blue_green",
        description=f"Create Blue/Green deployment {deployment}: green copy of {instance.id} at {target}"
        + (f" ({settings})" if settings else "")
        + (f", with green read replicas of {', '.join(facts.replicas)}" if facts.replicas else ""),
    )
    storage_change = any(k in dict(facts.target_settings) for k in _STORAGE_KEYS)
    builder.step(
        WAIT_INSTANCE_GREEN,
        WaitInstanceGreenParams(
            instance_id=instance.id,
            target_version=target,
            instance_class=params.target_db_instance_class,
            storage_type=params.target_storage_type,
        ),
        name="wait_green",
        description="Wait until the green instance is available at "
        + target
        + " (AVAILABLE twice in a row"
        + (
            "; a storage change builds new storage and green must leave storage-optimization: hours"
            if storage_change
            else "; about an hour, more for large databases"
        )
        + ")",
    )


_STORAGE_KEYS = ("TargetStorageType", "TargetAllocatedStorage", "TargetIops", "TargetStorageThroughput")


def _switchover_and_after(
    builder: StepBuilder,
    instance: InstanceSnapshot,
    params: EngineUpgradeParams,
    facts: DbInstanceBlueGreenFacts,
    deployment: str,
) -> None:
    source, target = facts.source_version, params.target_engine_version
    old = old_instance_name(instance.id)
    builder.step(
        SWITCHOVER_INSTANCE_BLUE_GREEN,
        InstanceSwitchoverParams(
            instance_id=instance.id,
            source_version=source,
            target_version=target,
            switchover_timeout=params.switchover_timeout,
        ),
        name=PAUSE_BEFORE_SWITCHOVER,
        description=f"Switch over: green takes the name {instance.id} (and its endpoint) at {target}; blue becomes "
        f"{old} (SwitchoverTimeout {params.switchover_timeout} s; writes stop for about a minute)",
    )
    if not params.skip_proxy_retarget:
        builder.step(
            VERIFY_INSTANCE_PROXIES,
            InstanceStepParams(instance_id=instance.id),
            name="verify_proxies",
            description=f"Verify every RDS Proxy targets the upgraded {instance.id} and its target is AVAILABLE "
            "(only looks: if not, pauses with the commands to fix it)",
        )
    if params.old_cluster_retention_hours > 0:
        builder.step(
            RETAIN_OLD_INSTANCE,
            RetainOldInstanceParams(instance_id=instance.id, hours=params.old_cluster_retention_hours),
            name="keep_old_instance",
            description=f"Keep the old blue instance {old} for {params.old_cluster_retention_hours} h after the "
            "switchover",
        )
    builder.step(
        DELETE_INSTANCE_BLUE_GREEN,
        DeleteInstanceDeploymentParams(instance_id=instance.id),
        name=PAUSE_BEFORE_CLEANUP,
        description=f"Delete the Blue/Green deployment {deployment} (the upgraded {instance.id} stays)",
    )
    replicas = [old_instance_name(r) for r in facts.replicas]
    builder.step(
        DELETE_OLD_INSTANCE,
        DeleteOldInstanceParams(instance_id=instance.id, source_version=source),
        name="delete_old_instance",
        description=(f"Delete the old blue read replicas {', '.join(replicas)}, then " if replicas else "Delete ")
        + f"the old blue instance {old} after a final snapshot (only the instances this switchover made old)",
    )
    builder.step(
        VERIFY_INSTANCE_UPGRADE,
        VerifyInstanceUpgradeParams(
            instance_id=instance.id,
            target_version=target,
            instance_class=params.target_db_instance_class,
            storage_type=params.target_storage_type,
            parameter_group=facts.parameter_group.target,
            check_proxies=not params.skip_proxy_retarget,
        ),
        name="verify",
        description=f"Verify {instance.id} runs {target}, no deployment and no old instance are left"
        + ("" if params.skip_proxy_retarget else ", proxies target the upgraded instance"),
    )


def _describe_group(group: GroupPlan) -> str:
    if group.mode == "copy":
        return f"copy the values set in {group.source} into {group.target}"
    if group.mode == "default":
        return f"{group.source or 'default'} -> {group.target}"
    if group.mode == "keep":
        return f"keep {group.target}"
    return f"use {group.target} (as asked)"


def _notes(instance: InstanceSnapshot, params: EngineUpgradeParams, facts: DbInstanceBlueGreenFacts) -> list[str]:
    old = old_instance_name(instance.id)
    replication = (
        "logical replication (PostgreSQL major upgrade)"
        if facts.major_upgrade and instance.engine == "postgres"
        else "binary log replication"
        if instance.engine in ("mysql", "mariadb")
        else "physical replication"
    )
    notes = [
        f"{'Major' if facts.major_upgrade else 'Minor'} upgrade {facts.source_version} -> "
        f"{params.target_engine_version} of the DB instance {instance.id} through a Blue/Green deployment: "
        f"the green copy is built and kept in sync by {replication} while {instance.id} keeps serving; the "
        "switchover is a short write outage (typically under a minute) and the endpoint name does not change.",
    ]
    if facts.target_settings:
        notes.append(f"The green instance is built with {_settings_text(facts.target_settings)}.")
    if facts.replicas:
        notes.append(
            f"Read replicas {', '.join(facts.replicas)}: AWS makes a green replica of each and switches them over "
            f"with {instance.id}; the old ones become <name>-old1 and are deleted with {old}."
        )
    if params.pause_before_switchover:
        notes.append("Pauses before the switchover: check the green instance, then resume with continue.")
    if params.pause_before_cleanup:
        notes.append(
            f"Pauses before the clean-up: the old blue instance {old} is deleted (after a final snapshot) only once "
            "you resume with continue."
        )
    if params.old_cluster_retention_hours:
        notes.append(f"Keeps {old} for {params.old_cluster_retention_hours} h after the switchover before cleaning up.")
    if params.skip_proxy_retarget:
        notes.append("skip_proxy_retarget: RDS Proxy targets are neither checked nor verified.")
    elif facts.proxies:
        notes.append(
            "RDS Proxy follows the switchover by itself (the instance is a proxy target before the deployment is "
            "created); rds-maint checks it before and verifies it after: "
            + ", ".join(f"{p.name} ({p.status})" for p in facts.proxies)
        )
    else:
        notes.append(f"No RDS Proxy targets {instance.id}.")
    return notes + list(facts.notes)


# -- abort, rollback -------------------------------------------------------------------------------


def _touched(operation: Operation, kind: StepKind[Any, Any]) -> bool:
    return any(s.action == kind.action and s.state in TOUCHED for s in operation.steps)


def _done(operation: Operation, kind: StepKind[Any, Any]) -> bool:
    return any(s.action == kind.action and s.state is StepState.COMPLETED for s in operation.steps)


def unwind_db_instance_blue_green(operation: Operation, kind: Literal["abort", "rollback"]) -> list[Step]:
    """Before the switchover: delete the deployment and the green instance, then the group we made.
    After it: say that the old blue instance is kept and how to go back (rollback pauses there)."""
    context = operation.context
    instance_id = operation.target_id
    builder = StepBuilder(offset=len(operation.steps))
    if _touched(operation, CREATE_INSTANCE_BLUE_GREEN):
        builder.step(
            UNWIND_INSTANCE_BLUE_GREEN,
            InstanceUnwindParams(
                instance_id=instance_id,
                kind=kind,
                source_version=context.get("source_version"),
                target_version=context.get("target_version"),
                old_instance_id=context.get("old_instance_id"),
            ),
            name=f"{kind}_blue_green",
            description=f"{kind.capitalize()}: before the switchover, delete the Blue/Green deployment and the green "
            f"instance; after it, keep the old blue instance {context.get('old_instance_id')}"
            + (" and explain how to switch back" if kind == "rollback" else ""),
        )
    copies = [
        GroupToDelete(kind="instance", name=str(group["target"]))
        for group in (context.get("parameter_groups") or {}).values()
        if group.get("mode") == "copy"
    ]
    if _touched(operation, PREPARE_PARAMETER_GROUPS) and copies:
        builder.step(
            DELETE_PARAMETER_GROUPS,
            DeleteParameterGroupsParams(cluster_id=instance_id, groups=copies),
            name=f"{kind}_parameter_groups",
            description=f"{kind.capitalize()}: delete the parameter group this operation created, if nothing uses "
            "it (" + ", ".join(c.name for c in copies) + ")",
        )
    return builder.steps


def _switchover_began(operation: Operation) -> bool:
    """The switchover was asked for, or may have been (a step under way when a process stopped). A step that
    paused on AWS's refusal before asking (FAILED, nothing requested) has not begun."""
    begun = (StepState.IN_PROGRESS, StepState.WAITING, StepState.COMPLETED)
    return any(
        s.action == SWITCHOVER_INSTANCE_BLUE_GREEN.action
        and (s.state in begun or bool(s.result.get("switchover_requested_at")))
        for s in operation.steps
    )


def rollback_limits(operation: Operation) -> str | None:
    """What a rollback of `operation` cannot undo, said before the answer is accepted (None: it undoes all).

    Before the switchover a rollback deletes the deployment with its green instance and the group this
    operation made: nothing is left. Once the switchover began, AWS cannot switch back."""
    if not _switchover_began(operation):
        return None
    context = operation.context
    name = operation.target_id
    old = str(context.get("old_instance_id") or old_instance_name(name))
    target = context.get("target_version", "the target version")
    source = context.get("source_version", "the old version")
    if _touched(operation, DELETE_OLD_INSTANCE):
        keep = (
            f"the old blue instance {old} is being deleted or gone (its final snapshot can be restored, without the "
            "writes made since the switchover)"
        )
    else:
        keep = f"the old blue instance {old} ({source}) is kept as it was at the switchover"
    return (
        f"the switchover {'happened' if _done(operation, SWITCHOVER_INSTANCE_BLUE_GREEN) else 'was requested'}: "
        f"{name} runs {target} (or is switching to it), and AWS cannot switch a Blue/Green deployment back. "
        f"Rollback deletes nothing and changes nothing: {keep}; it pauses with the steps to go back by hand "
        f"(stop writes, rename {name} away and {old} to {name}, copy the writes made since the switchover), "
        "then checks the result on continue"
    )
