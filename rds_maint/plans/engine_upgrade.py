"""engine_upgrade: an Aurora major or minor upgrade through a Blue/Green deployment.

validate -> prepare parameter groups -> proxy pre-check -> [wait 5 min for new groups to settle]
-> create Blue/Green -> wait green
-> (pause) switchover -> verify proxies -> [keep the old cluster] -> (pause) cleanup: delete the
deployment -> delete the old blue cluster -> verify.

Pure: the preflight (`rds_maint.upgrade_preflight`) has already looked at AWS and hands its
findings over as `facts`; this module only orders steps and names things. Names are derived from
the cluster and the operation (or the target version), so a retried step finds what it made.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal

from rds_maint.model import EngineUpgradeParams, Operation, Step
from rds_maint.plans.base import Plan, StepBuilder
from rds_maint.plans.rollback import TOUCHED
from rds_maint.snapshots import ClusterSnapshot

PAUSE_BEFORE_SWITCHOVER = "switchover"
PAUSE_BEFORE_CLEANUP = "cleanup"


def _slug(text: str) -> str:
    """Letters, digits and single hyphens: what RDS accepts in every identifier."""
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-zA-Z0-9-]", "-", text)).strip("-")


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:8]


def _fit(base: str, suffix: str, limit: int) -> str:
    base = _slug(base)[: max(1, limit - len(suffix))].rstrip("-")
    if not base or not base[0].isalpha():
        base = ("c" + base)[: max(1, limit - len(suffix))].rstrip("-")
    return f"{base}{suffix}"


def deployment_name(cluster_id: str, operation_id: str) -> str:
    """BlueGreenDeploymentName: at most 60 characters, unique per operation."""
    return _fit(f"rdsm-{cluster_id}", f"-{_digest(cluster_id, operation_id)}", 60)


def parameter_group_copy_name(cluster_id: str, target_version: str, kind: Literal["cluster", "instance"]) -> str:
    """The group a custom group is copied into: the same name for the same cluster and target version,
    so a second operation (after an abort) finds and reuses it."""
    return _fit(cluster_id, f"-{_slug(target_version)}-{kind}-params", 255)


def final_snapshot_name(old_cluster_id: str, operation_id: str) -> str:
    return _fit(f"{old_cluster_id}-final", f"-{_digest(old_cluster_id, operation_id)}", 255)


def plan_engine_upgrade(
    cluster: ClusterSnapshot, params: EngineUpgradeParams, operation_id: str, facts: dict[str, Any]
) -> Plan:
    source = str(facts["source_version"])
    target = params.target_engine_version
    name = deployment_name(cluster.id, operation_id)
    groups: dict[str, dict[str, Any]] = facts["parameter_groups"]
    proxies: list[dict[str, Any]] = facts.get("proxies", [])
    writer = cluster.writer_id or "(none)"
    old_cluster = f"{cluster.id}-old1"
    builder = StepBuilder()
    builder.add(
        "validate",
        "check_upgrade_ready",
        f"Check that {cluster.id} is available at {source} and has no other Blue/Green deployment",
        cluster_id=cluster.id,
        cluster_arn=facts["cluster_arn"],
        source_version=source,
        target_version=target,
    )
    builder.add(
        "prepare_parameter_groups",
        "prepare_parameter_groups",
        "Parameter groups for " + target + ": " + "; ".join(_describe_group(kind, g) for kind, g in groups.items()),
        cluster_id=cluster.id,
        groups=[{"kind": kind, **g} for kind, g in groups.items()],
    )
    if not params.skip_proxy_retarget:
        builder.add(
            "check_proxies",
            "check_proxies",
            f"Check that every RDS Proxy targeting {cluster.id} is healthy before the deployment is created",
            cluster_id=cluster.id,
        )
    copies = [g["target"] for g in groups.values() if g["mode"] == "copy"]
    if copies:
        builder.add(
            "settle_parameter_groups",
            "wait_parameter_groups_settle",
            f"Wait 5 min for the new parameter groups to settle ({', '.join(copies)}), counted from when they were "
            "created or last changed, before the green environment uses them (AWS asks for it); nothing to wait "
            "for if they are older",
            cluster_id=cluster.id,
        )
    builder.add(
        "create_blue_green",
        "create_blue_green_deployment",
        f"Create Blue/Green deployment {name}: green copy of {cluster.id} at {target}",
        cluster_id=cluster.id,
        cluster_arn=facts["cluster_arn"],
        deployment_name=name,
        target_version=target,
        cluster_parameter_group=groups["cluster"]["target"],
        instance_parameter_group=groups["instance"]["target"],
    )
    builder.add(
        "wait_green",
        "wait_blue_green_available",
        "Wait until the green environment is ready (AVAILABLE twice in a row; about 40 minutes for Aurora)",
        cluster_id=cluster.id,
        target_version=target,
    )
    builder.add(
        PAUSE_BEFORE_SWITCHOVER,
        "switchover_blue_green",
        f"Switch over: green takes the name {cluster.id} (writer {writer}) at {target}; blue becomes "
        f"{old_cluster} (SwitchoverTimeout {params.switchover_timeout} s)",
        cluster_id=cluster.id,
        source_version=source,
        target_version=target,
        switchover_timeout=params.switchover_timeout,
    )
    if not params.skip_proxy_retarget:
        builder.add(
            "verify_proxies",
            "verify_proxy_targets",
            f"Verify every RDS Proxy tracks the upgraded {cluster.id} and its instance targets are AVAILABLE "
            "(only looks: if not, pauses with the commands to fix them)",
            cluster_id=cluster.id,
        )
    if params.old_cluster_retention_hours > 0:
        builder.add(
            "keep_old_cluster",
            "retain_old_cluster",
            f"Keep the old blue cluster {old_cluster} for {params.old_cluster_retention_hours} h after the switchover",
            cluster_id=cluster.id,
            hours=params.old_cluster_retention_hours,
        )
    builder.add(
        PAUSE_BEFORE_CLEANUP,
        "delete_blue_green_deployment",
        f"Delete the Blue/Green deployment {name} (the upgraded {cluster.id} stays)",
        cluster_id=cluster.id,
        delete_target=False,
    )
    builder.add(
        "delete_old_cluster",
        "delete_old_cluster",
        f"Delete the old blue cluster {old_cluster} and its instances, after a final snapshot",
        cluster_id=cluster.id,
        source_version=source,
    )
    builder.add(
        "verify",
        "verify_engine_upgrade",
        f"Verify {cluster.id} runs {target}, no deployment and no old cluster are left"
        + ("" if params.skip_proxy_retarget else ", proxies track the upgraded cluster"),
        cluster_id=cluster.id,
        target_version=target,
        check_proxies=not params.skip_proxy_retarget,
        cluster_parameter_group=groups["cluster"]["target"],
        instance_parameter_group=groups["instance"]["target"],
    )

    pause_before = []
    if params.pause_before_switchover:
        pause_before.append(PAUSE_BEFORE_SWITCHOVER)
    if params.pause_before_cleanup:
        pause_before.append(PAUSE_BEFORE_CLEANUP)
    notes = _notes(cluster, params, facts, proxies, old_cluster)
    context = {
        "source_version": source,
        "target_version": target,
        "deployment_name": name,
        "cluster_arn": facts["cluster_arn"],
        "parameter_groups": groups,
        "proxies": [p["name"] for p in proxies],
        "old_cluster_id": old_cluster,
    }
    return Plan(steps=builder.steps, notes=notes, context=context, pause_before=pause_before)


def _describe_group(kind: str, group: dict[str, Any]) -> str:
    mode, source, target = group["mode"], group.get("source"), group["target"]
    if mode == "copy":
        off = ", with event_scheduler=OFF" if group.get("event_scheduler_off") else ""
        return f"{kind}: copy the values set in {source} into {target}{off}"
    if mode == "default":
        return f"{kind}: {source or 'default'} -> {target}"
    if mode == "keep":
        return f"{kind}: keep {target}"
    return f"{kind}: use {target} (as asked)"


def _notes(
    cluster: ClusterSnapshot,
    params: EngineUpgradeParams,
    facts: dict[str, Any],
    proxies: list[dict[str, Any]],
    old_cluster: str,
) -> list[str]:
    notes = [
        f"{'Major' if facts.get('major_upgrade') else 'Minor'} upgrade {facts['source_version']} -> "
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
    if params.skip_proxy_retarget:
        notes.append("skip_proxy_retarget: RDS Proxy targets are neither checked nor verified.")
    elif proxies:
        notes.append(
            "RDS Proxy follows the switchover by itself (the cluster is a proxy target before the deployment is "
            "created); rds-maint checks it before and verifies it after: "
            + ", ".join(f"{p['name']} ({p['status']})" for p in proxies)
        )
    else:
        notes.append(f"No RDS Proxy targets {cluster.id}.")
    notes.append(
        "pause_before_proxy_deregister is accepted for compatibility only: rds-maint never deregisters or "
        "registers a proxy target (that drops the proxy's connections); it pauses with the commands instead."
    )
    notes += list(facts.get("notes", []))
    return notes


def unwind_engine_upgrade(operation: Operation, kind: Literal["abort", "rollback"]) -> list[Step]:
    """Before the switchover: delete the deployment and the green cluster, then the groups we made.
    After it: say that the old blue cluster is kept and how to go back (rollback pauses there)."""
    context = operation.context
    builder = StepBuilder(offset=len(operation.steps))
    create_began = any(s.action == "create_blue_green_deployment" and s.state in TOUCHED for s in operation.steps)
    if create_began:
        builder.add(
            f"{kind}_blue_green",
            "unwind_blue_green",
            f"{kind.capitalize()}: before the switchover, delete the Blue/Green deployment and the green cluster; "
            "after it, keep the old blue cluster" + (" and explain how to switch back" if kind == "rollback" else ""),
            cluster_id=operation.cluster_id,
            kind=kind,
            source_version=context.get("source_version"),
            target_version=context.get("target_version"),
            deployment_name=context.get("deployment_name"),
            old_cluster_id=context.get("old_cluster_id"),
        )
    prepared = any(s.action == "prepare_parameter_groups" and s.state in TOUCHED for s in operation.steps)
    copies = [
        {"kind": group_kind, "name": group["target"]}
        for group_kind, group in (context.get("parameter_groups") or {}).items()
        if group.get("mode") == "copy"
    ]
    if prepared and copies:
        builder.add(
            f"{kind}_parameter_groups",
            "delete_parameter_groups",
            f"{kind.capitalize()}: delete the parameter groups this operation created, if nothing uses them ("
            + ", ".join(c["name"] for c in copies)
            + ")",
            cluster_id=operation.cluster_id,
            groups=copies,
        )
    return builder.steps
