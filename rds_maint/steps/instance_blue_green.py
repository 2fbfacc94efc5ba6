"""Step kinds (params and records) for engine_upgrade of an RDS DB instance through Blue/Green.

The parameter-group steps are the Aurora upgrade's own (`steps.blue_green`: prepare, settle, delete),
with the instance id in their `cluster_id` field: those actions read only the groups they are given.
Everything that looks at the source, the green copy or the old instance has a kind of its own here,
because an RDS DB instance is described, renamed and deleted differently from an Aurora cluster.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from rds_maint.steps.base import NoRecord, StepKind, StepParams, StepRecord
from rds_maint.steps.blue_green import ProxyRef, RefusalsRecord, SwitchoverProgress, SwitchoverVersions

__all__ = [
    "CHECK_INSTANCE_PROXIES",
    "CHECK_INSTANCE_UPGRADE_READY",
    "CREATE_INSTANCE_BLUE_GREEN",
    "DELETE_INSTANCE_BLUE_GREEN",
    "DELETE_OLD_INSTANCE",
    "RETAIN_OLD_INSTANCE",
    "SWITCHOVER_INSTANCE_BLUE_GREEN",
    "UNWIND_INSTANCE_BLUE_GREEN",
    "VERIFY_INSTANCE_PROXIES",
    "VERIFY_INSTANCE_UPGRADE",
    "WAIT_INSTANCE_GREEN",
    "CheckInstanceProxiesRecord",
    "CreateInstanceBlueGreenParams",
    "DeleteInstanceDeploymentParams",
    "DeleteOldInstanceParams",
    "DeleteOldInstanceRecord",
    "InstanceBlueGreenCreated",
    "InstanceStepParams",
    "InstanceSwitchoverParams",
    "InstanceSwitchoverRecord",
    "InstanceUnwindParams",
    "InstanceUnwindRecord",
    "InstanceUpgradeReadyParams",
    "RetainOldInstanceParams",
    "RetainOldInstanceRecord",
    "TargetSettingValue",
    "VerifyInstanceProxiesRecord",
    "VerifyInstanceUpgradeParams",
    "VerifyInstanceUpgradeRecord",
    "WaitInstanceGreenParams",
    "WaitInstanceGreenRecord",
]

# A CreateBlueGreenDeployment Target* value: a class or storage type, a size, or UpgradeTargetStorageConfig.
TargetSettingValue = str | int | bool


class InstanceStepParams(StepParams):
    instance_id: str


# -- validate, proxies ---------------------------------------------------------------------------


class InstanceUpgradeReadyParams(StepParams):
    instance_id: str
    instance_arn: str
    source_version: str
    target_version: str


CHECK_INSTANCE_UPGRADE_READY = StepKind("check_instance_upgrade_ready", InstanceUpgradeReadyParams, NoRecord)


class CheckInstanceProxiesRecord(StepRecord):
    proxies: list[ProxyRef] = Field(default_factory=list)


CHECK_INSTANCE_PROXIES = StepKind("check_instance_proxies", InstanceStepParams, CheckInstanceProxiesRecord)


class VerifyInstanceProxiesRecord(StepRecord):
    proxies_ok: list[str] = Field(default_factory=list)


VERIFY_INSTANCE_PROXIES = StepKind("verify_instance_proxies", InstanceStepParams, VerifyInstanceProxiesRecord)


# -- create and wait -----------------------------------------------------------------------------


class CreateInstanceBlueGreenParams(StepParams):
    instance_id: str
    instance_arn: str
    deployment_name: str
    target_version: str
    instance_parameter_group: str | None = None
    # TargetDBInstanceClass, TargetStorageType, ... exactly as CreateBlueGreenDeployment takes them
    target_settings: dict[str, TargetSettingValue] = Field(default_factory=dict)


class InstanceBlueGreenCreated(StepRecord):
    deployment_id: str | None = None
    green_instance_id: str | None = None


CREATE_INSTANCE_BLUE_GREEN = StepKind(
    "create_instance_blue_green", CreateInstanceBlueGreenParams, InstanceBlueGreenCreated
)


class WaitInstanceGreenParams(StepParams):
    instance_id: str
    target_version: str
    # the green instance must show these (None: whatever blue has)
    instance_class: str | None = None
    storage_type: str | None = None


class WaitInstanceGreenRecord(StepRecord):
    available_seen: int = 0
    green_instance_id: str | None = None
    # what a person checks before answering continue at the switchover pause
    green_endpoint: str | None = None
    green_replicas: list[str] = Field(default_factory=list)


WAIT_INSTANCE_GREEN = StepKind(
    "wait_instance_green", WaitInstanceGreenParams, WaitInstanceGreenRecord, transition="instance_blue_green_create"
)


# -- switchover and after --------------------------------------------------------------------------


class InstanceSwitchoverParams(SwitchoverVersions):
    instance_id: str


class InstanceSwitchoverRecord(SwitchoverProgress):
    old_instance_id: str | None = None
    # the old blue read replicas (renamed <replica>-old1 by the switchover)
    old_replicas: list[str] = Field(default_factory=list)


# The engine announces disruptive steps before and after (status events: apps drain connections).
SWITCHOVER_INSTANCE_BLUE_GREEN = StepKind(
    "switchover_instance_blue_green",
    InstanceSwitchoverParams,
    InstanceSwitchoverRecord,
    disruptive=True,
    transition="switchover",
    interruption="switchover",
)


class RetainOldInstanceParams(StepParams):
    instance_id: str
    hours: int


class RetainOldInstanceRecord(StepRecord):
    keep_until: str | None = None


RETAIN_OLD_INSTANCE = StepKind("retain_old_instance", RetainOldInstanceParams, RetainOldInstanceRecord)


class DeleteInstanceDeploymentParams(StepParams):
    instance_id: str


DELETE_INSTANCE_BLUE_GREEN = StepKind(
    "delete_instance_blue_green", DeleteInstanceDeploymentParams, RefusalsRecord, transition="blue_green_delete"
)


class DeleteOldInstanceParams(StepParams):
    instance_id: str
    source_version: str


class DeleteOldInstanceRecord(StepRecord):
    deleting: list[str] = Field(default_factory=list)
    final_snapshot: str | None = None
    old_instance_deleted: str | None = None


DELETE_OLD_INSTANCE = StepKind(
    "delete_old_instance", DeleteOldInstanceParams, DeleteOldInstanceRecord, transition="delete"
)


class VerifyInstanceUpgradeParams(StepParams):
    instance_id: str
    target_version: str
    instance_class: str | None = None
    storage_type: str | None = None
    parameter_group: str | None = None
    check_proxies: bool = False


class VerifyInstanceUpgradeRecord(StepRecord):
    engine_version: str | None = None
    instance_class: str | None = None


VERIFY_INSTANCE_UPGRADE = StepKind("verify_instance_upgrade", VerifyInstanceUpgradeParams, VerifyInstanceUpgradeRecord)


# -- abort / rollback ------------------------------------------------------------------------------


class InstanceUnwindParams(StepParams):
    instance_id: str
    kind: Literal["abort", "rollback"]
    source_version: str | None = None
    target_version: str | None = None
    old_instance_id: str | None = None


class InstanceUnwindRecord(RefusalsRecord):
    green_instance_id: str | None = None
    refused_while_provisioning: bool = False


UNWIND_INSTANCE_BLUE_GREEN = StepKind(
    "unwind_instance_blue_green", InstanceUnwindParams, InstanceUnwindRecord, transition="blue_green_delete_target"
)
