"""Step kinds of engine_upgrade (Blue/Green): what each step takes, and what it records.

Field names are the JSON keys the steps stored before they were typed, so an operation saved by an
earlier version still loads and runs. Timestamps stay ISO strings, as they were stored.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rds_maint.steps.base import NoRecord, StepKind, StepParams, StepRecord

__all__ = [
    "CHECK_PROXIES",
    "CHECK_UPGRADE_READY",
    "CREATE_BLUE_GREEN_DEPLOYMENT",
    "DELETE_BLUE_GREEN_DEPLOYMENT",
    "DELETE_OLD_CLUSTER",
    "DELETE_PARAMETER_GROUPS",
    "PREPARE_PARAMETER_GROUPS",
    "RETAIN_OLD_CLUSTER",
    "SWITCHOVER_BLUE_GREEN",
    "UNWIND_BLUE_GREEN",
    "VERIFY_ENGINE_UPGRADE",
    "VERIFY_PROXY_TARGETS",
    "WAIT_BLUE_GREEN_AVAILABLE",
    "WAIT_PARAMETER_GROUPS_SETTLE",
    "CheckProxiesRecord",
    "CheckUpgradeReadyParams",
    "ClusterStepParams",
    "CreateBlueGreenParams",
    "CreateBlueGreenRecord",
    "CreatedGroup",
    "DeleteDeploymentParams",
    "DeleteOldClusterParams",
    "DeleteOldClusterRecord",
    "DeleteParameterGroupsParams",
    "DeleteParameterGroupsRecord",
    "GroupKind",
    "GroupMode",
    "GroupPlan",
    "GroupSpec",
    "GroupToDelete",
    "PrepareParameterGroupsParams",
    "PrepareParameterGroupsRecord",
    "ProxyRef",
    "Refusal",
    "RefusalsRecord",
    "RetainParams",
    "RetainRecord",
    "SettleRecord",
    "SwitchoverParams",
    "SwitchoverProgress",
    "SwitchoverRecord",
    "SwitchoverVersions",
    "UnwindParams",
    "UnwindRecord",
    "VerifyProxyTargetsRecord",
    "VerifyUpgradeParams",
    "VerifyUpgradeRecord",
    "WaitGreenParams",
    "WaitGreenRecord",
]

GroupKind = Literal["cluster", "instance"]
GroupMode = Literal["copy", "default", "keep", "explicit"]


# -- what the preflight found, and the plan hands on -----------------------------------------------


class GroupPlan(StepParams):
    """Which parameter group green gets for one kind, and how it is made (the preflight decides)."""

    mode: GroupMode
    source: str | None = None
    target: str
    family: str
    # copy: the group already existed (made by rds-maint) when the operation was planned
    existing: bool = False
    # Aurora MySQL: the copy gets event_scheduler=OFF (and whether the source had it ON)
    event_scheduler_off: bool = False
    event_scheduler_was_on: bool = False


class GroupSpec(GroupPlan):
    """One parameter group for prepare_parameter_groups: the plan for `kind`."""

    kind: GroupKind


class Refusal(BaseModel):
    """AWS refused a call while the deployment read a state that should accept it: since when, how often."""

    model_config = ConfigDict(extra="ignore")

    first_at: str
    count: int = 0


class RefusalsRecord(StepRecord):
    """A step that asks AWS again after refusals keeps them per call (saved with the step: a crash or a new
    process does not restart the refusal budget)."""

    refusals: dict[str, Refusal] = Field(default_factory=dict)


# -- validate, parameter groups, proxies ---------------------------------------------------------


class CheckUpgradeReadyParams(StepParams):
    cluster_id: str
    cluster_arn: str
    source_version: str
    target_version: str


CHECK_UPGRADE_READY = StepKind("check_upgrade_ready", CheckUpgradeReadyParams, NoRecord)


class PrepareParameterGroupsParams(StepParams):
    cluster_id: str
    groups: list[GroupSpec]


class CreatedGroup(BaseModel):
    kind: GroupKind
    name: str


class PrepareParameterGroupsRecord(StepRecord):
    created: list[CreatedGroup] = Field(default_factory=list)
    copied: dict[str, list[str]] = Field(default_factory=dict)
    skipped: dict[str, list[str]] = Field(default_factory=dict)
    # when rds-maint last created or changed each group (ISO), from the group's own tag
    changed_at: dict[str, str] = Field(default_factory=dict)


PREPARE_PARAMETER_GROUPS = StepKind(
    "prepare_parameter_groups", PrepareParameterGroupsParams, PrepareParameterGroupsRecord
)


class ClusterStepParams(StepParams):
    cluster_id: str


class SettleRecord(StepRecord):
    settle_until: str | None = None
    settled_at: str | None = None


WAIT_PARAMETER_GROUPS_SETTLE = StepKind("wait_parameter_groups_settle", ClusterStepParams, SettleRecord)


class GroupToDelete(StepParams):
    kind: GroupKind
    name: str


class DeleteParameterGroupsParams(StepParams):
    cluster_id: str
    groups: list[GroupToDelete]


class DeleteParameterGroupsRecord(StepRecord):
    deleted: list[str] = Field(default_factory=list)
    kept: list[str] = Field(default_factory=list)


DELETE_PARAMETER_GROUPS = StepKind("delete_parameter_groups", DeleteParameterGroupsParams, DeleteParameterGroupsRecord)


class ProxyRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    target_group: str = "default"


class CheckProxiesRecord(StepRecord):
    proxies: list[ProxyRef] = Field(default_factory=list)


CHECK_PROXIES = StepKind("check_proxies", ClusterStepParams, CheckProxiesRecord)


class VerifyProxyTargetsRecord(StepRecord):
    # proxy name -> target group, settled at the first look
    watched_proxies: dict[str, str] = Field(default_factory=dict)
    proxies_ok: list[str] = Field(default_factory=list)


VERIFY_PROXY_TARGETS = StepKind("verify_proxy_targets", ClusterStepParams, VerifyProxyTargetsRecord)


# -- create and wait ---------------------------------------------------------------------------------


class CreateBlueGreenParams(StepParams):
    cluster_id: str
    cluster_arn: str
    deployment_name: str
    target_version: str
    cluster_parameter_group: str | None = None
    instance_parameter_group: str | None = None


class CreateBlueGreenRecord(StepRecord):
    deployment_id: str | None = None
    green_cluster_id: str | None = None


CREATE_BLUE_GREEN_DEPLOYMENT = StepKind("create_blue_green_deployment", CreateBlueGreenParams, CreateBlueGreenRecord)


class WaitGreenParams(StepParams):
    cluster_id: str
    target_version: str


class WaitGreenRecord(StepRecord):
    available_seen: int = 0
    green_cluster_id: str | None = None
    # what a person checks before answering continue at the switchover pause
    green_writer_endpoint: str | None = None
    green_reader_endpoint: str | None = None


WAIT_BLUE_GREEN_AVAILABLE = StepKind("wait_blue_green_available", WaitGreenParams, WaitGreenRecord)


# -- switchover and after ----------------------------------------------------------------------------


class SwitchoverVersions(StepParams):
    """What every switchover takes, whatever its source (a cluster or a DB instance)."""

    source_version: str
    target_version: str
    switchover_timeout: int


class SwitchoverParams(SwitchoverVersions):
    cluster_id: str


class SwitchoverProgress(RefusalsRecord):
    """What every switchover records, whatever its source."""

    switchover_requested_at: str | None = None
    switchover_completed_at: str | None = None
    # the failed switchover last reported to a person (a `continue` after it asks for a new one)
    failure_reported: str | None = None


class SwitchoverRecord(SwitchoverProgress):
    old_cluster_id: str | None = None
    old_members: list[str] = Field(default_factory=list)


# The engine announces disruptive steps before and after (status events: apps drain connections).
SWITCHOVER_BLUE_GREEN = StepKind("switchover_blue_green", SwitchoverParams, SwitchoverRecord, disruptive=True)


class RetainParams(StepParams):
    cluster_id: str
    hours: int


class RetainRecord(StepRecord):
    keep_until: str | None = None


RETAIN_OLD_CLUSTER = StepKind("retain_old_cluster", RetainParams, RetainRecord)


class DeleteDeploymentParams(StepParams):
    cluster_id: str
    delete_target: bool = False


DELETE_BLUE_GREEN_DEPLOYMENT = StepKind("delete_blue_green_deployment", DeleteDeploymentParams, RefusalsRecord)


class DeleteOldClusterParams(StepParams):
    cluster_id: str
    source_version: str


class DeleteOldClusterRecord(StepRecord):
    deleting_members: list[str] = Field(default_factory=list)
    final_snapshot: str | None = None
    old_cluster_deleted: str | None = None


DELETE_OLD_CLUSTER = StepKind("delete_old_cluster", DeleteOldClusterParams, DeleteOldClusterRecord)


class VerifyUpgradeParams(StepParams):
    cluster_id: str
    target_version: str
    check_proxies: bool = False
    cluster_parameter_group: str | None = None
    instance_parameter_group: str | None = None


class VerifyUpgradeRecord(StepRecord):
    engine_version: str | None = None
    writer: str | None = None
    proxies: list[str] = Field(default_factory=list)


VERIFY_ENGINE_UPGRADE = StepKind("verify_engine_upgrade", VerifyUpgradeParams, VerifyUpgradeRecord)


# -- abort / rollback ------------------------------------------------------------------------------


class UnwindParams(StepParams):
    cluster_id: str
    kind: Literal["abort", "rollback"]
    source_version: str | None = None
    target_version: str | None = None
    deployment_name: str | None = None
    old_cluster_id: str | None = None


class UnwindRecord(RefusalsRecord):
    green_cluster_id: str | None = None
    # AWS refused to delete the deployment while PROVISIONING: wait for the build to end, then ask again
    refused_while_provisioning: bool = False


UNWIND_BLUE_GREEN = StepKind("unwind_blue_green", UnwindParams, UnwindRecord)
