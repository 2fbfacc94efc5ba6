"""Plans are pure data: built from a snapshot, no AWS involved."""

from __future__ import annotations

import re

import pytest

from rds_maint.errors import BadInput
from rds_maint.model import InstanceTypeChangeParams, Step
from rds_maint.names import temp_instance_id
from rds_maint.plans.instance_type_change import plan_instance_type_change
from rds_maint.snapshots import ClusterSnapshot, InstanceSnapshot, MemberSnapshot

RDS_ID = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$")


def member(
    name: str,
    *,
    writer: bool = False,
    cls: str = "db.r6g.large",
    az: str = "us-east-1a",
    tags: dict[str, str] | None = None,
) -> MemberSnapshot:
    instance = InstanceSnapshot(
        id=name,
        cluster_id="c1",
        instance_class=cls,
        status="available",
        engine="aurora-postgresql",
        engine_version="15.4",
        availability_zone=az,
        promotion_tier=1,
        parameter_group="pg-custom",
        parameter_apply_status="in-sync",
        pending_class=None,
        tags=tags or {},
    )
    return MemberSnapshot(
        instance=instance, is_writer=writer, promotion_tier=1, cluster_parameter_group_status="in-sync"
    )


def cluster(*members: MemberSnapshot) -> ClusterSnapshot:
    return ClusterSnapshot(
        id="c1",
        status="available",
        engine="aurora-postgresql",
        engine_version="15.4",
        storage_type="aurora",
        parameter_group="cpg",
        members=members,
        tags={},
    )


def names(plan_steps: list[Step]) -> list[str]:
    return [s.name for s in plan_steps]


def test_writer_change_goes_through_a_temp_instance_in_another_az() -> None:
    snap = cluster(member("w", writer=True, tags={"team": "orders"}), member("r1", az="us-east-1b"))
    plan = plan_instance_type_change(snap, InstanceTypeChangeParams(target_instance_type="db.r6g.xlarge"), "op-1")
    assert names(plan.steps) == [
        "check_cluster",
        "create_temp_instance",
        "failover_to_temp",
        "modify_class:w",
        "modify_class:r1",
        "failback",
        "delete_temp_instance",
        "verify",
    ]
    create = plan.steps[1].parameters
    assert create["availability_zone"] == "us-east-1b"
    assert create["promotion_tier"] == 0
    assert create["parameter_group"] == "pg-custom"
    assert create["tags"] == {"team": "orders"}
    assert plan.context["original_writer"] == "w"


def test_writer_left_alone_means_no_temp_instance_and_no_failover() -> None:
    snap = cluster(member("w", writer=True), member("r1"), member("r2"))
    params = InstanceTypeChangeParams(target_instance_type="db.r6g.xlarge", exclude_instances=["w"])
    plan = plan_instance_type_change(snap, params, "op-1")
    assert names(plan.steps) == ["check_cluster", "modify_class:r1", "modify_class:r2", "verify"]
    assert "w: skipped (listed in exclude_instances)" in plan.notes


def test_instances_already_on_target_are_noted_not_changed() -> None:
    snap = cluster(member("w", writer=True), member("r1", cls="db.r6g.xlarge"))
    plan = plan_instance_type_change(snap, InstanceTypeChangeParams(target_instance_type="db.r6g.xlarge"), "op")
    assert "modify_class:r1" not in names(plan.steps)
    assert any("r1: already db.r6g.xlarge" in n for n in plan.notes)


def test_skip_temp_on_a_single_instance_cluster_is_refused() -> None:
    snap = cluster(member("w", writer=True))
    params = InstanceTypeChangeParams(target_instance_type="db.r6g.xlarge", skip_temp_instance=True)
    with pytest.raises(BadInput, match="no reader to fail over to"):
        plan_instance_type_change(snap, params, "op")


def test_single_instance_cluster_uses_a_temp_instance() -> None:
    snap = cluster(member("w", writer=True))
    plan = plan_instance_type_change(snap, InstanceTypeChangeParams(target_instance_type="db.r6g.xlarge"), "op")
    assert "create_temp_instance" in names(plan.steps) and "failback" in names(plan.steps)


@pytest.mark.parametrize("cluster_id", ["orders-prod", "a" * 63, "9lives-db", "x--y-", "Prod-DB-01"])
def test_temp_instance_id_is_a_valid_stable_rds_identifier(cluster_id: str) -> None:
    first = temp_instance_id(cluster_id, "op-123")
    assert RDS_ID.match(first), first
    assert first == temp_instance_id(cluster_id, "op-123")
    assert first != temp_instance_id(cluster_id, "op-124")


def test_params_refuse_unknown_keys_and_loose_types() -> None:
    with pytest.raises(ValueError, match="extra"):
        InstanceTypeChangeParams.model_validate({"target_instance_type": "db.r6g.xlarge", "size": 1})
    with pytest.raises(ValueError):
        InstanceTypeChangeParams.model_validate({"target_instance_type": "db.r6g.xlarge", "skip_temp_instance": "yes"})
    with pytest.raises(ValueError, match="not an instance class"):
        InstanceTypeChangeParams.model_validate({"target_instance_type": "r6g.xlarge"})
