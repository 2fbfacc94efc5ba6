"""engine_upgrade: an Aurora major or minor upgrade through a Blue/Green deployment.

validate -> prepare parameter groups -> proxy pre-check -> [wait 5 min for new groups to settle]
-> create Blue/Green -> wait green
-> (pause) switchover -> verify proxies -> [keep the old cluster] -> (pause) cleanup: delete the
deployment -> delete the old blue cluster -> verify.

Pure: the preflight (`rds_maint.upgrade_preflight`) has already looked at AWS and hands its
findings over as `EngineUpgradeFacts`; this module only orders steps and names things. Names are derived from
the cluster and the operation (or the target version), so a retried step finds what it made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rds_maint.model import EngineUpgradeParams, Operation, Step
from rds_maint.names import deployment_name
from rds_maint.plans.base import Plan, StepBuilder
from rds_maint.plans.rollback import TOUCHED
from rds_maint.snapshots import ClusterSnapshot
from rds_maint.steps.base import StepKind
from rds_maint.steps.blue_green import (
    CHECK_PROXIES,
    CHECK_UPGRADE_READY,
    CREATE_BLUE_GREEN_DEPLOYMENT,
    DELETE_BLUE_GREEN_DEPLOYMENT,
    DELETE_OLD_CLUSTER,
    DELETE_PARAMETER_GROUPS,
    PREPARE_PARAMETER_GROUPS,
    RETAIN_OLD_CLUSTER,
    SWITCHOVER_BLUE_GREEN,
    UNWIND_BLUE_GREEN,
    VERIFY_ENGINE_UPGRADE,
    VERIFY_PROXY_TARGETS,
    WAIT_BLUE_GREEN_AVAILABLE,
    WAIT_PARAMETER_GROUPS_SETTLE,
    CheckUpgradeReadyParams,
    ClusterStepParams,
    CreateBlueGreenParams,
    DeleteDeploymentParams,
    DeleteOldClusterParams,
    DeleteParameterGroupsParams,
    GroupKind,
    GroupPlan,
    GroupSpec,
    GroupToDelete,
    PrepareParameterGroupsParams,
    RetainParams,
    SwitchoverParams,
    UnwindParams,
    VerifyUpgradeParams,
    WaitGreenParams,
)

__all__ = [
    "PAUSE_BEFORE_CLEANUP",
    "PAUSE_BEFORE_SWITCHOVER",
    "EngineUpgradeFacts",
    "GroupsPlan",
    "ProxyFound",
    "plan_blue_green_upgrade",
    "plan_engine_upgrade",
    "unwind_engine_upgrade",
]

PAUSE_BEFORE_SWITCHOVER = "switchover"
PAUSE_BEFORE_CLEANUP = "cleanup"


@dataclass(frozen=True)
class ProxyFound:
    """An RDS Proxy the preflight found tracking the cluster."""

    name: str
    status: str


@dataclass(frozen=True)
class GroupsPlan:
    """The parameter groups green gets, one per kind."""

    cluster: GroupPlan
    instance: GroupPlan

    def items(self) -> list[tuple[GroupKind, GroupPlan]]:
        return [("cluster", self.cluster), ("instance", self.instance)]


@dataclass(frozen=True)
class EngineUpgradeFacts:
    """What the preflight (`rds_maint.upgrade_preflight`) found that the plan needs beyond the snapshot."""

    cluster_arn: str
    source_version: str
    target_version: str
    source_family: str
    target_family: str
    major_upgrade: bool
    parameter_groups: GroupsPlan
    proxies: tuple[ProxyFound, ...] = ()
    notes: tuple[str, ...] = ()


def plan_engine_upgrade(
    cluster: ClusterSnapshot, params: EngineUpgradeParams, operation_id: str, facts: object
) -> Plan:
    """The plan registered for engine_upgrade: its facts must be the engine_upgrade preflight's."""
    if not isinstance(facts, EngineUpgradeFacts):
        raise TypeError(f"engine_upgrade is planned from EngineUpgradeFacts, not {type(facts).__name__}")
    return plan_blue_green_upgrade(cluster, params, operation_id, facts)


def plan_blue_green_upgrade(
    cluster: ClusterSnapshot, params: EngineUpgradeParams, operation_id: str, facts: EngineUpgradeFacts
) -> Plan:
    builder = StepBuilder()
    names = _Names(cluster.id, deployment_name(cluster.id, operation_id), f"{cluster.id}-old1")
    _before_switchover(builder, cluster, params, facts, names)
    _switchover_and_after(builder, cluster, params, facts, names)
    pause_before = []
    if params.pause_before_switchover:
        pause_before.append(PAUSE_BEFORE_SWITCHOVER)
    if params.pause_before_cleanup:
        pause_before.append(PAUSE_BEFORE_CLEANUP)
    context = {
        "source_version": facts.source_version,
        "target_version": params.target_engine_version,
        "deployment_name": names.deployment,
        "cluster_arn": facts.cluster_arn,
        "parameter_groups": {
            kind: group.model_dump(mode="json", exclude_unset=True) for kind, group in facts.parameter_groups.items()
        },
        "proxies": [p.name for p in facts.proxies],
        "old_cluster_id": names.old_cluster,
    }
    notes = _notes(cluster, params, facts, names.old_cluster)
    return Plan(steps=builder.steps, notes=notes, context=context, pause_before=pause_before)


@dataclass(frozen=True)
class _Names:
    cluster: str
    deployment: str
    old_cluster: str


def _before_switchover(
    builder: StepBuilder, cluster: ClusterSnapshot, params: EngineUpgradeParams, facts: EngineUpgradeFacts, n: _Names
) -> None:
    """validate -> prepare parameter groups -> proxy pre-check -> [settle] -> create Blue/Green -> wait green."""
    source, target, groups = facts.source_version, params.target_engine_version, facts.parameter_groups
    builder.step(
        CHECK_UPGRADE_READY,
        CheckUpgradeReadyParams(
            cluster_id=cluster.id, cluster_arn=facts.cluster_arn, source_version=source, target_version=target
        ),
        name="validate",
        description=f"Check that {cluster.id} is available at {source} and has no other Blue/Green deployment",
    )
    builder.step(
        PREPARE_PARAMETER_GROUPS,
        PrepareParameterGroupsParams(
            cluster_id=cluster.id,
            groups=[GroupSpec(kind=kind, **g.model_dump(exclude_unset=True)) for kind, g in groups.items()],
        ),
        name="prepare_parameter_groups",
        description="Parameter groups for "
        + target
        + ": "
        + "; ".join(_describe_group(kind, g) for kind, g in groups.items()),
    )
    if not params.skip_proxy_retarget:
        builder.step(
            CHECK_PROXIES,
            ClusterStepParams(cluster_id=cluster.id),
            name="check_proxies",
            description=f"Check that every RDS Proxy targeting {cluster.id} is healthy before the deployment is "
            "created",
        )
    copies = [g.target for _, g in groups.items() if g.mode == "copy"]
    if copies:
        builder.step(
            WAIT_PARAMETER_GROUPS_SETTLE,
            ClusterStepParams(cluster_id=cluster.id),
            name="settle_parameter_groups",
            description=f"Wait 5 min for the new parameter groups to settle ({', '.join(copies)}), counted from when "
            "they were created or last changed, before the green environment uses them (AWS asks for it); nothing "
            "to wait for if they are older",
        )
    builder.step(
        CREATE_BLUE_GREEN_DEPLOYMENT,
        CreateBlueGreenParams(
            cluster_id=cluster.id,
            cluster_arn=facts.cluster_arn,
            deployment_name=n.deployment,
            target_version=target,
            cluster_parameter_group=groups.cluster.target,
            instance_parameter_group=groups.instance.target,
        ),
        name="create_blue_green",
        description=f"Create Blue/Green deployment {n.deployment}: green copy of {cluster.id} at {target}",
    )
    builder.step(
        WAIT_BLUE_GREEN_AVAILABLE,
        WaitGreenParams(cluster_id=cluster.id, target_version=target),
        name="wait_green",
        description="Wait until the green environment is ready (AVAILABLE twice in a row; about 40 minutes for Aurora)",
    )


def _switchover_and_after(
    builder: StepBuilder, cluster: ClusterSnapshot, params: EngineUpgradeParams, facts: EngineUpgradeFacts, n: _Names
) -> None:
    """(pause) switchover -> verify proxies -> [keep the old cluster] -> (pause) delete the deployment ->
    delete the old blue cluster -> verify."""
    source, target, groups = facts.source_version, params.target_engine_version, facts.parameter_groups
    writer = cluster.writer_id or "(none)"
    builder.step(
        SWITCHOVER_BLUE_GREEN,
        SwitchoverParams(
            cluster_id=cluster.id,
            source_version=source,
            target_version=target,
            switchover_timeout=params.switchover_timeout,
        ),
        name=PAUSE_BEFORE_SWITCHOVER,
        description=f"Switch over: green takes the name {cluster.id} (writer {writer}) at {target}; blue becomes "
        f"{n.old_cluster} (SwitchoverTimeout {params.switchover_timeout} s)",
    )
    if not params.skip_proxy_retarget:
        builder.step(
            VERIFY_PROXY_TARGETS,
            ClusterStepParams(cluster_id=cluster.id),
            name="verify_proxies",
            description=f"Verify every RDS Proxy tracks the upgraded {cluster.id} and its instance targets are "
            "AVAILABLE (only looks: if not, pauses with the commands to fix them)",
        )
    if params.old_cluster_retention_hours > 0:
        builder.step(
            RETAIN_OLD_CLUSTER,
            RetainParams(cluster_id=cluster.id, hours=params.old_cluster_retention_hours),
            name="keep_old_cluster",
            description=f"Keep the old blue cluster {n.old_cluster} for {params.old_cluster_retention_hours} h after "
            "the switchover",
        )
    builder.step(
        DELETE_BLUE_GREEN_DEPLOYMENT,
        DeleteDeploymentParams(cluster_id=cluster.id, delete_target=False),
        name=PAUSE_BEFORE_CLEANUP,
        description=f"Delete the Blue/Green deployment {n.deployment} (the upgraded {cluster.id} stays)",
    )
    builder.step(
        DELETE_OLD_CLUSTER,
        DeleteOldClusterParams(cluster_id=cluster.id, source_version=source),
        name="delete_old_cluster",
        description=f"Delete the old blue cluster {n.old_cluster} and its instances, after a final snapshot",
    )
    builder.step(
        VERIFY_ENGINE_UPGRADE,
        VerifyUpgradeParams(
            cluster_id=cluster.id,
            target_version=target,
            check_proxies=not params.skip_proxy_retarget,
            cluster_parameter_group=groups.cluster.target,
            instance_parameter_group=groups.instance.target,
        ),
        name="verify",
        description=f"Verify {cluster.id} runs {target}, no deployment and no old cluster are left"
        + ("" if params.skip_proxy_retarget else ", proxies track the upgraded cluster"),
    )


def _describe_group(kind: str, group: GroupPlan) -> str:
    mode, source, target = group.mode, group.source, group.target
    if mode == "copy":
        off = ", with event_scheduler=OFF" if group.event_scheduler_off else ""
        return f"{kind}: copy the values set in {source} into {target}{off}"
    if mode == "default":
        return f"{kind}: {source or 'default'} -> {target}"
    if mode == "keep":
        return f"{kind}: keep {target}"
    return f"{kind}: use {target} (as asked)"


def _notes(
    cluster: ClusterSnapshot, params: EngineUpgradeParams, facts: EngineUpgradeFacts, old_cluster: str
) -> list[str]:
    notes = [
        f"{'Major' if facts.major_upgrade else 'Minor'} upgrade {facts.source_version} -> "
        f"{params.target_engine_version} through a Blue/Green deployment: the green copy is built and "
        "upgraded while the cluster keeps serving; the switchover is a short write outage (typically under a "
        "minute) and endpoint names do not change.",
    ]
    if params.pause_before_switchover:
        notes.append("Pauses before the switchover: check the green cluster, then resume with continue.")
    if params.pause_before_cleanup:
        notes.append(
            f"Pauses before the clean-up: the old blue cluster {old_cluster} is deleted (after a final snapshot) "
            "only once you resume with continue."
        )
    if params.old_cluster_retention_hours:
        notes.append(
            f"Keeps {old_cluster} for {params.old_cluster_retention_hours} h after the switchover before cleaning up."
        )
    notes.append(_proxy_note(cluster, params, facts.proxies))
    notes.append(
        "pause_before_proxy_deregister is accepted for compatibility only: rds-maint never deregisters or "
        "registers a proxy target (that drops the proxy's connections); it pauses with the commands instead."
    )
    notes += list(facts.notes)
    return notes


def _proxy_note(cluster: ClusterSnapshot, params: EngineUpgradeParams, proxies: tuple[ProxyFound, ...]) -> str:
    if params.skip_proxy_retarget:
        return "skip_proxy_retarget: RDS Proxy targets are neither checked nor verified."
    if proxies:
        return (
            "RDS Proxy follows the switchover by itself (the cluster is a proxy target before the deployment is "
            "created); rds-maint checks it before and verifies it after: "
            + ", ".join(f"{p.name} ({p.status})" for p in proxies)
        )
    return f"No RDS Proxy targets {cluster.id}."


def _began(operation: Operation, kind: StepKind[Any, Any]) -> bool:
    return any(s.action == kind.action and s.state in TOUCHED for s in operation.steps)


def unwind_engine_upgrade(operation: Operation, kind: Literal["abort", "rollback"]) -> list[Step]:
    """Before the switchover: delete the deployment and the green cluster, then the groups we made.
    After it: say that the old blue cluster is kept and how to go back (rollback pauses there)."""
    context = operation.context
    builder = StepBuilder(offset=len(operation.steps))
    if _began(operation, CREATE_BLUE_GREEN_DEPLOYMENT):
        builder.step(
            UNWIND_BLUE_GREEN,
            UnwindParams(
                cluster_id=operation.cluster_id,
                kind=kind,
                source_version=context.get("source_version"),
                target_version=context.get("target_version"),
                deployment_name=context.get("deployment_name"),
                old_cluster_id=context.get("old_cluster_id"),
            ),
            name=f"{kind}_blue_green",
            description=f"{kind.capitalize()}: before the switchover, delete the Blue/Green deployment and the green "
            "cluster; after it, keep the old blue cluster"
            + (" and explain how to switch back" if kind == "rollback" else ""),
        )
    copies = [
        GroupToDelete(kind=group_kind, name=str(group["target"]))
        for group_kind, group in (context.get("parameter_groups") or {}).items()
        if group.get("mode") == "copy"
    ]
    if _began(operation, PREPARE_PARAMETER_GROUPS) and copies:
        builder.step(
            DELETE_PARAMETER_GROUPS,
            DeleteParameterGroupsParams(cluster_id=operation.cluster_id, groups=copies),
            name=f"{kind}_parameter_groups",
            description=f"{kind.capitalize()}: delete the parameter groups this operation created, if nothing uses "
            "them (" + ", ".join(c.name for c in copies) + ")",
        )
    return builder.steps
