"""One operation per DB instance across stores and people: the mark on an RDS DB instance (DESIGN sections 9, 10).

An operation on a DB instance (`instance_id`) puts the tag `rds-maint:active-operation` on the DB instance
itself, read here with a plain moto client as a person would with `aws rds list-tags-for-resource`. Its
store lock is kept apart from a cluster's of the same name. The operations are stored directly (the DB
instance plans land in other branches): what is under test is the engine's lock, not a plan.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from rds_maint.engine import Engine
from rds_maint.errors import ClusterLocked
from rds_maint.model import Operation, OperationState, OperationType
from rds_maint.store import open_store
from tests.helpers.world import CLUSTER, REGION, World

__all__: list[str] = []

MARK = "rds-maint:active-operation"
INSTANCE = "orders-db"


def instance_tags(instance_id: str = INSTANCE) -> dict[str, str]:
    """The DB instance's tags in AWS (moto's own client, not the product's gateway)."""
    client = boto3.client("rds", region_name=REGION)
    arn = client.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]["DBInstanceArn"]
    return {t["Key"]: t["Value"] for t in client.list_tags_for_resource(ResourceName=arn)["TagList"]}


def cluster_tags() -> dict[str, str]:
    client = boto3.client("rds", region_name=REGION)
    arn = client.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]["DBClusterArn"]
    return {t["Key"]: t["Value"] for t in client.list_tags_for_resource(ResourceName=arn)["TagList"]}


def stored(engine: Engine, world: World, op_id: str, instance_id: str = INSTANCE) -> Operation:
    """An operation on a DB instance with no steps left to run, stored `created`."""
    now = world.clock.now()
    op = Operation(
        id=op_id,
        type=OperationType.INSTANCE_CYCLE,
        instance_id=instance_id,
        target_type="db_instance",
        region=REGION,
        parameters={},
        steps=[],
        wait_timeout=3600,
        created_at=now,
        updated_at=now,
    )
    return engine.store.create(op, [])


def laptop(world: World, tmp_path: Path) -> Engine:
    return Engine(open_store(f"file://{tmp_path / 'laptop'}"), world.gateway, world.clock)


@pytest.fixture
def instance(world: World) -> str:
    return world.sim.seed_db_instance(INSTANCE)


def test_start_marks_the_db_instance_and_the_final_state_takes_the_mark_off(world: World, instance: str) -> None:
    op = stored(world.engine, world, "op-instance-1")

    world.engine.start(op.id)

    assert instance_tags()[MARK] == op.id
    assert world.engine.lock_holder(INSTANCE, REGION, kind="instance") == op.id
    assert world.engine.lock_holder(INSTANCE, REGION) is None, "no cluster of that name is held"
    world.engine.advance(op.id)
    assert world.store.load(op.id).state is OperationState.COMPLETED
    assert MARK not in instance_tags()
    assert world.engine.lock_holder(INSTANCE, REGION, kind="instance") is None


def test_a_second_store_is_refused_on_a_db_instance_another_operation_holds(
    world: World, instance: str, tmp_path: Path
) -> None:
    first = stored(world.engine, world, "op-instance-1")
    world.engine.start(first.id)
    other = laptop(world, tmp_path)
    second = stored(other, world, "op-instance-2")
    calls = len(world.mutating_calls())

    with pytest.raises(ClusterLocked) as refused:
        other.start(second.id)

    message = str(refused.value)
    assert f"instance '{INSTANCE}' in {REGION} is busy" in message
    assert f"'{first.id}' holds it" in message
    assert f"rds-maint unlock --instance {INSTANCE} --region {REGION} --force" in message
    assert instance_tags()[MARK] == first.id
    assert len(world.mutating_calls()) == calls, "the refused start changed nothing in AWS"
    assert other.store.load(second.id).state is OperationState.CREATED
    assert other.store.lock_holder(f"instance--{INSTANCE}", REGION) is None, "its store lock was given back"


def test_force_unlock_of_a_db_instance_removes_the_mark_another_store_put_on(
    world: World, instance: str, tmp_path: Path
) -> None:
    other = laptop(world, tmp_path)
    foreign = stored(other, world, "op-foreign-1")
    other.start(foreign.id)
    assert instance_tags()[MARK] == foreign.id

    unlocked = world.engine.force_unlock(INSTANCE, REGION, "runner died", kind="instance")

    assert unlocked is not None and unlocked.holder == foreign.id and unlocked.mark_removed
    assert unlocked.recorded_on is None, "this store does not hold that operation"
    assert MARK not in instance_tags()
    mine = stored(world.engine, world, "op-instance-2")
    world.engine.start(mine.id)
    assert instance_tags()[MARK] == mine.id


def test_force_unlock_records_the_release_on_the_operation_that_held_the_instance(world: World, instance: str) -> None:
    op = stored(world.engine, world, "op-instance-1")
    world.engine.start(op.id)
    world.clock.advance(60)

    unlocked = world.engine.force_unlock(INSTANCE, REGION, "runbook 7", kind="instance")

    assert unlocked is not None and unlocked.recorded_on == op.id and unlocked.mark_removed
    assert MARK not in instance_tags()
    assert world.store.lock_holder(f"instance--{INSTANCE}", REGION) is None
    released = [e for e in world.store.events(op.id) if e.type == "lock_released_by_operator"]
    assert released and f"instance {INSTANCE}" in released[0].message and "runbook 7" in released[0].message


def test_a_db_instance_and_a_cluster_of_the_same_name_are_locked_apart(
    world: World, cluster_1w2r: list[str], tmp_path: Path
) -> None:
    world.sim.seed_db_instance(CLUSTER)  # AWS names DB instances and DB clusters apart
    on_instance = stored(world.engine, world, "op-instance-1", instance_id=CLUSTER)
    world.engine.start(on_instance.id)
    on_cluster = world.create({"target_instance_type": "db.r6g.xlarge"})

    world.engine.start(on_cluster.id)

    assert instance_tags(CLUSTER)[MARK] == on_instance.id
    assert cluster_tags()[MARK] == on_cluster.id
    assert world.engine.lock_holder(CLUSTER, REGION) == on_cluster.id
    assert world.engine.lock_holder(CLUSTER, REGION, kind="instance") == on_instance.id
