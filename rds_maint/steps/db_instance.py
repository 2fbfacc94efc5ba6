"""Step kinds (params and records) for RDS DB instances: class change, reboot, in-place engine upgrade.

A Multi-AZ DB instance and a Single-AZ one get kinds of their own for the same AWS call, because the
estimate reads the write interruption from the kind: a Multi-AZ change or reboot fails over to the standby
(`multi_az_failover`, about a minute or two), a Single-AZ one is down for the whole step (`downtime`).
An in-place upgrade is down for its whole length either way: primary and standby upgrade together.
"""

from __future__ import annotations

from rds_maint.steps.base import NoRecord, StepKind, StepParams, StepRecord

__all__ = [
    "CHECK_DB_INSTANCE",
    "MODIFY_DB_INSTANCE_CLASS",
    "MODIFY_DB_INSTANCE_CLASS_OFFLINE",
    "REBOOT_DB_INSTANCE",
    "REBOOT_DB_INSTANCE_OFFLINE",
    "UPGRADE_DB_INSTANCE_IN_PLACE",
    "VERIFY_DB_INSTANCE",
    "CheckDbInstanceParams",
    "DbInstanceClassParams",
    "DbInstanceClassRecord",
    "DbInstanceRebootParams",
    "DbInstanceRebootRecord",
    "DbInstanceUpgradeParams",
    "DbInstanceUpgradeRecord",
    "FailoverSeenRecord",
    "VerifyDbInstanceParams",
    "VerifyDbInstanceRecord",
]


class CheckDbInstanceParams(StepParams):
    instance_id: str
    # What the plan was made for: a Multi-AZ instance that became Single-AZ would be down, not fail over.
    multi_az: bool
    instance_class: str
    engine_version: str


CHECK_DB_INSTANCE = StepKind("check_db_instance", CheckDbInstanceParams, NoRecord)


class FailoverSeenRecord(StepRecord):
    """Where the primary was before the step and after it, and what AWS said of a failover in between."""

    zone_before: str | None = None
    standby_zone_before: str | None = None
    zone_after: str | None = None
    standby_zone_after: str | None = None
    failover_events: list[str] = []


class DbInstanceClassParams(StepParams):
    instance_id: str
    instance_class: str
    # The class before this step: what a rollback changes the instance back to.
    original_class: str
    multi_az: bool


class DbInstanceClassRecord(FailoverSeenRecord):
    # ISO time of the turn that sent ModifyDBInstance (events are read from then on).
    requested_at: str | None = None


MODIFY_DB_INSTANCE_CLASS = StepKind(
    "modify_db_instance_class",
    DbInstanceClassParams,
    DbInstanceClassRecord,
    disruptive=True,
    transition="instance_class",
    interruption="multi_az_failover",
)
MODIFY_DB_INSTANCE_CLASS_OFFLINE = StepKind(
    "modify_db_instance_class_offline",
    DbInstanceClassParams,
    DbInstanceClassRecord,
    disruptive=True,
    transition="instance_class",
    interruption="downtime",
)


class DbInstanceRebootParams(StepParams):
    instance_id: str
    # RebootDBInstance ForceFailover: Multi-AZ only (AWS refuses it for a Single-AZ instance).
    force_failover: bool
    only_if_pending: bool = False


class DbInstanceRebootRecord(FailoverSeenRecord):
    # ISO times: the mark made before the call, and the turn that called RebootDBInstance.
    reboot_marked_at: str | None = None
    reboot_attempted_at: str | None = None
    was_pending: bool = False
    left_available_at: str | None = None
    parameter_status: str | None = None


REBOOT_DB_INSTANCE = StepKind(
    "reboot_db_instance",
    DbInstanceRebootParams,
    DbInstanceRebootRecord,
    disruptive=True,
    transition="instance_reboot",
    interruption="multi_az_failover",
)
REBOOT_DB_INSTANCE_OFFLINE = StepKind(
    "reboot_db_instance_offline",
    DbInstanceRebootParams,
    DbInstanceRebootRecord,
    disruptive=True,
    transition="reboot",  # a plain restart, no failover: the wait (actions/db_instance.py) times it so
    interruption="downtime",
)


class DbInstanceUpgradeParams(StepParams):
    instance_id: str
    engine_version: str
    original_version: str
    allow_major: bool
    parameter_group: str | None = None


class DbInstanceUpgradeRecord(StepRecord):
    requested_at: str | None = None


UPGRADE_DB_INSTANCE_IN_PLACE = StepKind(
    "upgrade_db_instance_in_place",
    DbInstanceUpgradeParams,
    DbInstanceUpgradeRecord,
    disruptive=True,
    transition="instance_upgrade",
    interruption="downtime",
)


class VerifyDbInstanceParams(StepParams):
    instance_id: str
    instance_class: str | None = None
    engine_version: str | None = None
    multi_az: bool | None = None
    parameter_group: str | None = None
    require_in_sync: bool = False


class VerifyDbInstanceRecord(StepRecord):
    instance_class: str | None = None
    engine_version: str | None = None
    availability_zone: str | None = None
    parameter_status: str | None = None


VERIFY_DB_INSTANCE = StepKind("verify_db_instance", VerifyDbInstanceParams, VerifyDbInstanceRecord)
