"""The in-place upgrade's checks and plan on their own (no simulator): what AWS would answer is a small stub,
so the rules that need a custom parameter group and a version catalogue are judged exactly."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from rds_maint.errors import BadInput
from rds_maint.model import EngineUpgradeParams, OperationType
from rds_maint.planning.db_instance_preflight import preflight_db_instance
from rds_maint.plans import build_plan
from rds_maint.ports import RdsPort
from rds_maint.snapshots import InstanceSnapshot

NOW = datetime(2026, 12, 2, tzinfo=UTC)
FAMILIES = {
    "16.1": "postgres16",
    "16.4": "postgres16",
    "17.4": "postgres17",
    "8.0.36": "mysql8.0",
    "8.0.40": "mysql8.0",
}
TARGETS = {"16.1": [("16.4", False), ("17.4", True)], "8.0.36": [("8.0.40", False)]}


class Versions:
    """DescribeDBEngineVersions and DescribeDBParameterGroups of a small account, nothing else."""

    def __init__(self, groups: dict[str, str], replicas: dict[str, InstanceSnapshot] | None = None) -> None:
        self.groups = groups
        self.replicas = replicas or {}

    def find_instance(self, instance_id: str) -> InstanceSnapshot | None:
        return self.replicas.get(instance_id)

    def engine_version(self, engine: str, version: str) -> dict[str, Any] | None:
        if version not in FAMILIES:
            return None
        targets = [{"EngineVersion": v, "IsMajorVersionUpgrade": m} for v, m in TARGETS.get(version, [])]
        return {"EngineVersion": version, "DBParameterGroupFamily": FAMILIES[version], "ValidUpgradeTarget": targets}

    def parameter_group(self, kind: str, name: str) -> dict[str, Any] | None:
        family = self.groups.get(name)
        return None if family is None else {"DBParameterGroupName": name, "DBParameterGroupFamily": family}


def instance(group: str = "default.postgres16", multi_az: bool = True) -> InstanceSnapshot:
    return InstanceSnapshot(
        id="orders-db",
        cluster_id=None,
        instance_class="db.m6g.large",
        status="available",
        engine="postgres",
        engine_version="16.1",
        availability_zone="us-east-1a",
        promotion_tier=1,
        parameter_group=group,
        parameter_apply_status="in-sync",
        pending_class=None,
        tags={},
        multi_az=multi_az,
    )


def preflight(
    target: InstanceSnapshot,
    groups: dict[str, str] | None = None,
    replicas: dict[str, InstanceSnapshot] | None = None,
    **params: Any,
) -> object:
    typed = EngineUpgradeParams.model_validate({"method": "in_place", **params})
    rds = cast(RdsPort, Versions(groups or {}, replicas))
    return preflight_db_instance(OperationType.ENGINE_UPGRADE, rds, target, typed, NOW)


def plan(
    target: InstanceSnapshot,
    groups: dict[str, str] | None = None,
    replicas: dict[str, InstanceSnapshot] | None = None,
    **params: Any,
) -> Any:
    typed = EngineUpgradeParams.model_validate({"method": "in_place", **params})
    facts = preflight(target, groups, replicas, **params)
    return build_plan(OperationType.ENGINE_UPGRADE, target, typed, "op-1", facts)


def test_a_major_upgrade_from_a_custom_group_needs_a_group_of_the_new_family() -> None:
    with pytest.raises(BadInput) as refused:
        preflight(instance("orders-pg16"), {"orders-pg16": "postgres16"}, target_engine_version="17.4")
    message = str(refused.value)
    assert "custom group orders-pg16" in message and "family postgres17" in message
    assert "db_instance_parameter_group_name=NAME" in message


def test_a_major_upgrade_with_a_group_of_the_new_family_sends_it_and_verifies_it() -> None:
    groups = {"orders-pg16": "postgres16", "orders-pg17": "postgres17"}
    built = plan(
        instance("orders-pg16"), groups, target_engine_version="17.4", db_instance_parameter_group_name="orders-pg17"
    )
    upgrade, verify = built.steps[1], built.steps[2]
    assert upgrade.parameters["allow_major"] is True and upgrade.parameters["parameter_group"] == "orders-pg17"
    assert verify.parameters["parameter_group"] == "orders-pg17" and verify.parameters["engine_version"] == "17.4"


def test_a_minor_upgrade_keeps_a_custom_group_and_sends_no_allow_major() -> None:
    built = plan(instance("orders-pg16"), {"orders-pg16": "postgres16"}, target_engine_version="16.4")
    upgrade = built.steps[1]
    assert upgrade.parameters["allow_major"] is False and upgrade.parameters.get("parameter_group") is None


def test_the_plan_pauses_before_the_upgrade_unless_told_not_to() -> None:
    assert plan(instance(), target_engine_version="16.4").pause_before == ["upgrade_in_place:orders-db"]
    assert plan(instance(), target_engine_version="16.4", pause_before_switchover=False).pause_before == []


def test_an_unknown_current_version_is_refused_with_the_command_to_check() -> None:
    odd = replace(instance(), engine_version="16.0")
    with pytest.raises(
        BadInput, match=re.escape("describe-db-engine-versions --engine postgres --engine-version 16.0")
    ):
        preflight(odd, target_engine_version="16.4")


def test_single_az_says_down_without_the_standby_note() -> None:
    built = plan(instance(multi_az=False), target_engine_version="16.4")
    assert "primary and standby" not in built.steps[1].description
    assert any("cannot be undone in place" in note for note in built.notes)


def test_mysql_read_replicas_must_be_upgraded_before_their_source() -> None:
    source = replace(
        instance("default.mysql8.0"),
        engine="mysql",
        engine_version="8.0.36",
        read_replica_ids=("orders-r1", "orders-r2"),
    )
    behind = replace(instance(), id="orders-r1", engine="mysql", engine_version="8.0.36", replica_source_id="orders-db")
    done = replace(behind, id="orders-r2", engine_version="8.0.40")
    with pytest.raises(BadInput) as refused:
        preflight(source, replicas={"orders-r1": behind, "orders-r2": done}, target_engine_version="8.0.40")
    assert "orders-r1 (8.0.36)" in str(refused.value) and "orders-r2" not in str(refused.value)
    built = plan(
        source,
        replicas={"orders-r1": replace(behind, engine_version="8.0.40"), "orders-r2": done},
        target_engine_version="8.0.40",
    )
    assert built.steps[1].parameters["engine_version"] == "8.0.40"


def test_postgres_read_replicas_are_named_as_upgraded_with_the_source() -> None:
    source = replace(instance(), read_replica_ids=("orders-r1",))
    built = plan(source, target_engine_version="16.4")
    assert any("orders-r1" in note and "down too" in note for note in built.notes)
