"""engine_upgrade preflight: everything that can be judged before anything is written.

Read-only calls only (DescribeDBEngineVersions, DescribeDBClusterParameters, DescribeBlueGreen-
Deployments, DescribeOrderableDBInstanceOptions, Describe*ParameterGroups, ListTagsForResource,
DescribePendingMaintenanceActions, DescribeDBProxies/Targets). Each refusal is a `BadInput` that
names the parameter or the cluster setting to change. What passes becomes `EngineUpgradeFacts` for
the plan: versions and families, the parameter-group mapping, the proxies found and warnings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rds_maint.actions.proxies import proxies_tracking
from rds_maint.errors import AwsError, BadInput
from rds_maint.model import EngineUpgradeParams
from rds_maint.names import parameter_group_copy_name
from rds_maint.plans.engine_upgrade import EngineUpgradeFacts, GroupsPlan, ProxyFound
from rds_maint.ports import RdsPort
from rds_maint.snapshots import TAG_OPERATION_ID, ClusterSnapshot
from rds_maint.steps.blue_green import GroupKind, GroupPlan

__all__ = ["BLUE_GREEN_MINIMUM", "PARAMETER_LABEL", "plan_parameter_group", "preflight_engine_upgrade", "version_key"]

# Blue/Green needs at least these Aurora PostgreSQL minors (AWS "Supported Regions and engines").
BLUE_GREEN_MINIMUM = {
    "aurora-postgresql": {
        "11": "11.21",
        "12": "12.16",
        "13": "13.12",
        "14": "14.9",
        "15": "15.4",
        "16": "16.1",
        "17": "17.4",
    }
}
PARAMETER_LABEL = {"cluster": "db_cluster_parameter_group_name", "instance": "db_instance_parameter_group_name"}


def version_key(version: str) -> tuple[int, ...]:
    """15.10 > 15.4; 8.0.mysql_aurora.3.05.2 -> (8, 0, 3, 5, 2)."""
    return tuple(int(part) for part in re.findall(r"\d+", version))


@dataclass(frozen=True)
class _Versions:
    """The upgrade as DescribeDBEngineVersions tells it."""

    major: bool
    source_family: str
    target_family: str


def preflight_engine_upgrade(rds: RdsPort, cluster: ClusterSnapshot, params: EngineUpgradeParams) -> EngineUpgradeFacts:
    versions = _check_versions(rds, cluster, params.target_engine_version)
    cluster_arn = str(cluster.raw.get("DBClusterArn") or "")
    _check_blue_green_minimum(cluster)
    _check_no_managed_master_password(cluster)
    _check_replication_prerequisites(rds, cluster)
    _check_no_deployment(rds, cluster, cluster_arn)
    _check_orderable(rds, cluster, params.target_engine_version)
    groups = _plan_groups(rds, cluster, params, versions)
    notes = _pending_maintenance(rds, cluster) + _group_notes(cluster, groups)
    proxies: tuple[ProxyFound, ...] = ()
    if not params.skip_proxy_retarget:
        try:
            proxies = tuple(ProxyFound(p.name, p.status) for p in proxies_tracking(rds, cluster.id, cluster.engine))
        except AwsError as exc:
            notes.append(
                f"Warning: could not list RDS Proxies ({exc.code}: {exc.aws_message}); the check_proxies step will "
                "try again and pause if it still cannot (grant rds:DescribeDBProxies, or set skip_proxy_retarget)"
            )
    return EngineUpgradeFacts(
        cluster_arn=cluster_arn,
        source_version=cluster.engine_version,
        target_version=params.target_engine_version,
        source_family=versions.source_family,
        target_family=versions.target_family,
        major_upgrade=versions.major,
        parameter_groups=groups,
        proxies=proxies,
        notes=tuple(notes),
    )


def _check_versions(rds: RdsPort, cluster: ClusterSnapshot, target: str) -> _Versions:
    """An Aurora cluster, and `target` a newer version it can be upgraded to in this region."""
    engine, current = cluster.engine, cluster.engine_version
    if not engine.startswith("aurora-"):
        raise BadInput(
            f"engine_upgrade supports Aurora clusters (aurora-postgresql, aurora-mysql); {cluster.id} is {engine}"
        )
    if target == current:
        raise BadInput(f"target_engine_version {target} is the version {cluster.id} already runs; nothing to upgrade")
    current_info = rds.engine_version(engine, current) or {}
    target_info = rds.engine_version(engine, target)
    if target_info is None:
        raise BadInput(
            f"target_engine_version {target} is not a known {engine} version in this region "
            "(aws rds describe-db-engine-versions --engine " + engine + " lists them)"
        )
    if version_key(target) < version_key(current):
        raise BadInput(
            f"target_engine_version {target} is older than {current}, the version {cluster.id} runs: Aurora cannot "
            "downgrade (restore a snapshot of an older cluster instead)"
        )
    targets = {str(t["EngineVersion"]): t for t in current_info.get("ValidUpgradeTarget") or []}
    if target not in targets:
        valid = ", ".join(sorted(targets, key=version_key)) or "none"
        raise BadInput(
            f"target_engine_version {target} is not a valid upgrade target of {engine} {current} "
            f"(valid targets: {valid})"
        )
    return _Versions(
        major=bool(targets[target].get("IsMajorVersionUpgrade")),
        source_family=str(current_info.get("DBParameterGroupFamily") or ""),
        target_family=str(target_info.get("DBParameterGroupFamily") or ""),
    )


def _check_no_managed_master_password(cluster: ClusterSnapshot) -> None:
    if cluster.raw.get("MasterUserSecret"):
        raise BadInput(
            f"{cluster.id} manages its master password in Secrets Manager (MasterUserSecret); Blue/Green does not "
            "support that: turn it off first (modify-db-cluster --no-manage-master-user-password "
            "--master-user-password ...), then create the operation again"
        )


def _check_no_deployment(rds: RdsPort, cluster: ClusterSnapshot, cluster_arn: str) -> None:
    existing = rds.blue_green_deployments(source_arn=cluster_arn) if cluster_arn else []
    if existing:
        deployment = existing[0]
        raise BadInput(
            f"{cluster.id} already has Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} "
            f"({deployment.get('Status')}); AWS allows one per cluster: delete it (or let it finish) first"
        )


def _check_orderable(rds: RdsPort, cluster: ClusterSnapshot, target: str) -> None:
    """Green gets each instance's class: every one must be orderable at the target version."""
    engine = cluster.engine
    unorderable = sorted(
        {
            m.instance.instance_class
            for m in cluster.members
            if not rds.is_orderable(engine, target, m.instance.instance_class)
        }
    )
    if unorderable:
        users = "; ".join(
            f"{c}: " + ", ".join(m.id for m in cluster.members if m.instance.instance_class == c) for c in unorderable
        )
        raise BadInput(
            f"instance class {', '.join(unorderable)} is not orderable for {engine} {target} "
            f"({users}): change those instances to a "
            "class the target version supports first (instance_type_change), or choose another target_engine_version"
        )


def _plan_groups(
    rds: RdsPort, cluster: ClusterSnapshot, params: EngineUpgradeParams, versions: _Versions
) -> GroupsPlan:
    target, family, major = params.target_engine_version, versions.target_family, versions.major
    cluster_group = plan_parameter_group(
        rds,
        "cluster",
        params.db_cluster_parameter_group_name,
        {cluster.parameter_group or ""},
        cluster.id,
        target,
        family,
        major,
    )
    instance_group = plan_parameter_group(
        rds,
        "instance",
        params.db_instance_parameter_group_name,
        {m.instance.parameter_group or "" for m in cluster.members},
        cluster.id,
        target,
        family,
        major,
        members={m.id: m.instance.parameter_group or "(none)" for m in cluster.members},
    )
    if cluster.engine == "aurora-mysql":
        cluster_group = _event_scheduler_off(rds, cluster_group, cluster.id, target, family)
    return GroupsPlan(cluster=cluster_group, instance=instance_group)


def _group_notes(cluster: ClusterSnapshot, groups: GroupsPlan) -> list[str]:
    """What the plan says about Auto Scaling readers, the Event Scheduler and reused groups."""
    notes = []
    autoscaled = [m.id for m in cluster.members if m.instance.is_autoscaled]
    if autoscaled:
        notes.append(
            f"Auto Scaling readers ({', '.join(autoscaled)}) are copied to green, but AWS does not copy scaling "
            "policies to the green environment; they apply to the cluster id again after the switchover"
        )
    group = groups.cluster
    if group.event_scheduler_off:
        notes.append(
            f"Aurora MySQL: the Event Scheduler must be off on the green environment during a Blue/Green "
            f"deployment (AWS); rds-maint sets event_scheduler=OFF in {group.target}"
            + (
                f" (it is ON in {group.source}). After the switchover the upgraded cluster runs with it OFF: set "
                f"it ON again in {group.target} once the deployment is deleted, if you use events"
                if group.event_scheduler_was_on
                else ""
            )
        )
    for kind, planned in groups.items():
        if planned.mode == "copy" and planned.existing:
            notes.append(f"The {kind} parameter group {planned.target} already exists (made by rds-maint): reused")
    return notes


def _check_blue_green_minimum(cluster: ClusterSnapshot) -> None:
    minimums = BLUE_GREEN_MINIMUM.get(cluster.engine, {})
    major = cluster.engine_version.split(".")[0]
    minimum = minimums.get(major)
    if minimum and version_key(cluster.engine_version) < version_key(minimum):
        raise BadInput(
            f"{cluster.id} runs {cluster.engine} {cluster.engine_version}; Blue/Green deployments need {minimum} or "
            "later in that major version: upgrade the minor version first"
        )


def _check_replication_prerequisites(rds: RdsPort, cluster: ClusterSnapshot) -> None:
    """Aurora PostgreSQL: rds.logical_replication = 1; Aurora MySQL: binlog_format on; the writer in sync."""
    group = cluster.parameter_group or ""
    if cluster.engine == "aurora-postgresql":
        parameter, wanted = "rds.logical_replication", "1"
    elif cluster.engine == "aurora-mysql":
        parameter, wanted = "binlog_format", "ROW"
    else:
        return
    values = {str(p["ParameterName"]): p.get("ParameterValue") for p in rds.parameters("cluster", group)}
    value = values.get(parameter)
    enabled = value == "1" if parameter == "rds.logical_replication" else str(value or "OFF").upper() != "OFF"
    if not enabled:
        how = (
            "it is a default group, which cannot be changed: create a custom DB cluster parameter group with "
            f"{parameter}={wanted}, attach it to the cluster"
            if group.startswith("default.")
            else f"set {parameter}={wanted} in it"
        )
        raise BadInput(
            f"Blue/Green needs {parameter}={wanted} in the cluster parameter group of {cluster.id}, but {group} has "
            f"{parameter}={value if value not in (None, '') else 'unset'}: {how}, then reboot the writer "
            f"{cluster.writer_id} so that it is in sync"
        )
    _check_writer_in_sync(cluster, group, parameter)


def _check_writer_in_sync(cluster: ClusterSnapshot, group: str, parameter: str) -> None:
    """The writer must run with the group's values (a changed static parameter waits for a reboot)."""
    writer = cluster.writer
    status = writer.cluster_parameter_group_status if writer else None
    if writer is not None and status not in (None, "in-sync"):
        raise BadInput(
            f"Blue/Green needs the writer {writer.id} in sync with the cluster parameter group {group}, but its "
            f"DBClusterParameterGroupStatus is {status}: reboot {writer.id} so that {parameter} takes effect"
        )


def plan_parameter_group(
    rds: RdsPort,
    kind: GroupKind,
    explicit: str | None,
    current: set[str],
    cluster_id: str,
    target_version: str,
    target_family: str,
    major: bool,
    members: dict[str, str] | None = None,
) -> GroupPlan:
    if explicit:
        return _explicit_group(rds, kind, explicit, current, target_version, target_family)
    if len(current) > 1:
        by_group: dict[str, list[str]] = {}
        for member, group in (members or {}).items():
            by_group.setdefault(group, []).append(member)
        listed = "; ".join(f"{g}: {', '.join(ids)}" for g, ids in sorted(by_group.items()))
        raise BadInput(
            f"the instances of {cluster_id} use different DB parameter groups ({listed}), and a Blue/Green deployment "
            f"gives every green instance one group: set {PARAMETER_LABEL[kind]} to a {target_family} group"
        )
    source = next(iter(current), "") or None
    if source is None or source.startswith("default."):
        return GroupPlan(mode="default", source=source, target=f"default.{target_family}", family=target_family)
    if not major:
        return GroupPlan(mode="keep", source=source, target=source, family=target_family)
    return _copy_group(rds, kind, source, cluster_id, target_version, target_family)


def _explicit_group(
    rds: RdsPort, kind: GroupKind, explicit: str, current: set[str], target_version: str, target_family: str
) -> GroupPlan:
    """The group the request names: it must exist and be of the target family; it is used as it is."""
    label = PARAMETER_LABEL[kind]
    what = "cluster parameter group" if kind == "cluster" else "DB parameter group"
    found = rds.parameter_group(kind, explicit)
    if found is None:
        raise BadInput(f"{label}: the {what} {explicit} does not exist in this region")
    family = found.get("DBParameterGroupFamily")
    if family != target_family:
        raise BadInput(f"{label}: {explicit} is a {family} group; {target_version} needs a {target_family} {what}")
    return GroupPlan(
        mode="explicit",
        source=sorted(current)[0] if len(current) == 1 else None,
        target=explicit,
        family=target_family,
    )


def _copy_group(
    rds: RdsPort, kind: GroupKind, source: str, cluster_id: str, target_version: str, target_family: str
) -> GroupPlan:
    """Copy `source` into a group of the target family named for the cluster and the target version."""
    label = PARAMETER_LABEL[kind]
    what = "cluster parameter group" if kind == "cluster" else "DB parameter group"
    name = parameter_group_copy_name(cluster_id, target_version, kind)
    existing = rds.parameter_group(kind, name)
    if existing is not None:
        arn = str(existing.get("DBClusterParameterGroupArn" if kind == "cluster" else "DBParameterGroupArn", ""))
        if TAG_OPERATION_ID not in rds.list_tags(arn):
            raise BadInput(
                f"a {what} named {name} already exists and was not made by rds-maint: set {label} to use it, or "
                "rename or delete it"
            )
        if existing.get("DBParameterGroupFamily") != target_family:
            raise BadInput(f"the existing {what} {name} is a {existing.get('DBParameterGroupFamily')} group; delete it")
    return GroupPlan(mode="copy", source=source, target=name, family=target_family, existing=existing is not None)


def _effective(rds: RdsPort, kind: GroupKind, group: str, parameter: str) -> str | None:
    """A parameter's value in a group as it applies (a person's value, else the engine default)."""
    for row in rds.parameters(kind, group):
        if row.get("ParameterName") == parameter:
            value = row.get("ParameterValue")
            return None if value is None else str(value)
    return None


def _event_scheduler_off(
    rds: RdsPort, group: GroupPlan, cluster_id: str, target_version: str, target_family: str
) -> GroupPlan:
    """Aurora MySQL: the Event Scheduler must be off on green while it replicates (AWS, Blue/Green
    limitations). A group rds-maint copies gets event_scheduler=OFF; a group the person named must have
    it off already (rds-maint never changes a group it did not make); a default or kept group that has it
    on is copied instead, so that the blue cluster's own group stays as it is."""
    if group.mode == "copy":
        source = group.source
        was_on = bool(source) and str(_effective(rds, "cluster", str(source), "event_scheduler")).upper() == "ON"
        return _with_scheduler_off(group, was_on)
    value = str(_effective(rds, "cluster", group.target, "event_scheduler") or "OFF").upper()
    if value != "ON":
        return group
    if group.mode == "explicit":
        raise BadInput(
            f"db_cluster_parameter_group_name: {group.target} has event_scheduler=ON, but AWS requires the "
            "Event Scheduler off on the green environment of a Blue/Green deployment: name a group with "
            "event_scheduler=OFF, or leave db_cluster_parameter_group_name out (rds-maint then copies the "
            "cluster's group with event_scheduler=OFF)"
        )
    copied = _copy_group(rds, "cluster", group.target, cluster_id, target_version, target_family)
    return _with_scheduler_off(copied, True)


def _with_scheduler_off(group: GroupPlan, was_on: bool) -> GroupPlan:
    return GroupPlan(**group.model_dump(exclude_unset=True), event_scheduler_off=True, event_scheduler_was_on=was_on)


def _pending_maintenance(rds: RdsPort, cluster: ClusterSnapshot) -> list[str]:
    """Warnings, never refusals: a pending action can block or delay the upgrade."""
    try:
        pending = rds.pending_maintenance()
    except AwsError as exc:
        return [f"Could not read pending maintenance actions ({exc.code}); check them before the switchover"]
    ours = {f":cluster:{cluster.id}"} | {f":db:{m.id}" for m in cluster.members}
    notes = []
    for resource in pending:
        arn = str(resource.get("ResourceIdentifier", ""))
        if not any(arn.endswith(suffix) for suffix in ours):
            continue
        for detail in resource.get("PendingMaintenanceActionDetails") or []:
            when = detail.get("ForcedApplyDate") or detail.get("AutoAppliedAfterDate")
            notes.append(
                f"Warning: pending maintenance on {arn.rsplit(':', 1)[-1]}: {detail.get('Action')} "
                f"({detail.get('Description', 'no description')})"
                + (f", applied after {when}" if when else "")
                + "; it can block or delay the upgrade: apply it first or check it is not due during the switchover"
            )
    return notes
