"""One operation per cluster across stores and people: the cluster's mark in AWS (DESIGN section 9).

Two operators with two stores (the team's store and a file store on a laptop) work on the same simulated
cluster. The tag `rds-maint:active-operation` on the DB cluster, read here with a plain moto client as a
person would with `aws rds list-tags-for-resource`, is what the second one is stopped by.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from click.testing import Result

from rds_maint.engine import Engine
from rds_maint.model import OperationState, Outcome
from rds_maint.names import temp_instance_id
from rds_maint.snapshots import TAG_OPERATION_ID
from rds_maint.store import open_store
from tests.helpers.world import CLUSTER, REGION, World

MARK = "rds-maint:active-operation"
TARGET = "db.r6g.xlarge"
CREATE = ["--type", "instance_type_change", "--cluster", CLUSTER, "--region", REGION, "--param"]


def cluster_tags() -> dict[str, str]:
    """The cluster's tags in AWS, as `aws rds list-tags-for-resource` shows them (moto's own client)."""
    client = boto3.client("rds", region_name=REGION)
    arn = client.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]["DBClusterArn"]
    return {t["Key"]: t["Value"] for t in client.list_tags_for_resource(ResourceName=arn)["TagList"]}


def laptop(world: World, tmp_path: Path) -> tuple[Engine, str]:
    """The second operator: a file store of their own, the same account and clock."""
    url = f"file://{tmp_path / 'laptop'}"
    return Engine(open_store(url), world.gateway, world.clock), url


def cli(world: World, url: str, *args: str) -> Result:
    return world.cli([*args, "--store", url])


def request(**params: Any) -> dict[str, Any]:
    return {"type": "instance_type_change", "cluster_id": CLUSTER, "region": REGION, "params": params}


def test_a_second_store_is_refused_on_a_cluster_another_operation_holds(
    world: World, cluster_1w2r: list[str], tmp_path: Path
) -> None:
    first = world.create({"target_instance_type": TARGET}, pause_before_steps=["failback"])
    assert world.run(first.id).outcome is Outcome.INTERVENTION
    assert cluster_tags()[MARK] == first.id
    other, other_url = laptop(world, tmp_path)
    mutating = len(world.mutating_calls())

    created = cli(world, other_url, "create", *CREATE, "target_instance_type=db.r6g.2xlarge")

    assert created.exit_code == 2, created.output
    assert f"operation '{first.id}' holds it" in created.output
    assert f"rds-maint unlock {CLUSTER} --region {REGION} --force" in created.output
    assert "Traceback" not in created.output
    assert other.store.list_operations() == []  # nothing written by the second operator
    assert len(world.mutating_calls()) == mutating and cluster_tags()[MARK] == first.id

    world.engine.resume(first.id, "continue")
    assert world.run(first.id).outcome is Outcome.COMPLETED
    assert MARK not in cluster_tags()  # taken off at the final state
    assert not world.sim.instance_exists(temp_instance_id(CLUSTER, first.id))
    second = other.create(request(target_instance_type="db.r6g.2xlarge"))
    assert world.run(second.id, engine=other).outcome is Outcome.COMPLETED
    assert {m.instance_class for m in world.sim.cluster_view(CLUSTER).members.values()} == {"db.r6g.2xlarge"}
    assert MARK not in cluster_tags()


def test_an_operation_created_before_the_other_started_is_refused_at_start(
    world: World, cluster_1w2r: list[str], tmp_path: Path
) -> None:
    other, other_url = laptop(world, tmp_path)
    waiting = other.create(request(target_instance_type="db.r6g.2xlarge"))  # planned while the cluster was free
    first = world.create({"target_instance_type": TARGET})
    world.engine.start(first.id)
    mutating = len(world.mutating_calls())

    run = cli(world, other_url, "run", waiting.id)

    assert run.exit_code == 2, run.output
    assert first.id in run.output and MARK in run.output
    stored = other.store.load(waiting.id)
    assert stored.state is OperationState.CREATED and stored.version == 1
    assert other.store.lock_holder(CLUSTER, REGION) is None  # the store lock it took was given back
    assert len(world.mutating_calls()) == mutating
    assert world.sim.applied_calls("CreateDBInstance") == [] and cluster_tags()[MARK] == first.id


def test_the_lambda_create_and_start_are_refused_by_another_stores_mark(
    world: World, cluster_1w2r: list[str], tmp_path: Path
) -> None:
    mine = world.create({"target_instance_type": TARGET})  # created while the cluster was free
    other, _url = laptop(world, tmp_path)
    theirs = other.create(request(target_instance_type="db.r6g.2xlarge"))
    other.start(theirs.id)
    assert cluster_tags()[MARK] == theirs.id

    created = world.handler({"action": "create", "params": request(target_instance_type=TARGET)})
    started = world.handler({"action": "start", "operation_id": mine.id})

    assert created["error"] is not None and theirs.id in created["error"]
    assert started["error"] is not None and theirs.id in started["error"] and MARK in started["error"]
    assert [o.id for o in world.store.list_operations()] == [mine.id]
    assert world.store.load(mine.id).state is OperationState.CREATED
    assert world.store.lock_holder(CLUSTER, REGION) is None and cluster_tags()[MARK] == theirs.id


def test_a_start_that_crashed_after_tagging_converges_when_run_again(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": TARGET})
    world.store.acquire_lock(CLUSTER, REGION, op.id)
    gateway = world.gateway()
    arn = str(gateway.describe_cluster(CLUSTER).raw["DBClusterArn"])
    gateway.add_tags(arn, {MARK: op.id})  # the crash: store lock and mark taken, start never saved
    tags_sent = len(world.sim.applied_calls("AddTagsToResource"))

    result = world.run(op.id, engine=world.new_engine())

    assert result.outcome is Outcome.COMPLETED
    assert len(world.sim.applied_calls("AddTagsToResource")) == tags_sent  # its own mark: not tagged again
    assert MARK not in cluster_tags() and world.store.lock_holder(CLUSTER, REGION) is None


def test_a_plan_is_refused_while_another_operations_temp_instance_is_in_the_cluster(
    world: World, cluster_1w2r: list[str]
) -> None:
    owner = "orders-prod-20260101-000000-abcdef"
    leftover = temp_instance_id(CLUSTER, owner)
    client = boto3.client("rds", region_name=REGION)  # the scenery: another operation's temp instance
    client.create_db_instance(
        DBInstanceIdentifier=leftover,
        DBClusterIdentifier=CLUSTER,
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
        Tags=[{"Key": TAG_OPERATION_ID, "Value": owner}],
    )

    planned = cli(world, world.store_url, "plan", *CREATE, f"target_instance_type={TARGET}")

    assert planned.exit_code == 2, planned.output
    assert leftover in planned.output and f"operation '{owner}'" in planned.output
    assert world.store.list_operations() == [] and world.mutating_calls() == []


def test_unlock_force_removes_the_mark_of_an_operation_of_another_store(
    world: World, cluster_1w2r: list[str], tmp_path: Path
) -> None:
    other, _url = laptop(world, tmp_path)
    theirs = other.create(request(target_instance_type="db.r6g.2xlarge"))
    other.start(theirs.id)

    refused = cli(world, world.store_url, "unlock", CLUSTER, "--region", REGION)
    assert refused.exit_code == 2 and theirs.id in refused.output and "--force" in refused.output
    forced = cli(world, world.store_url, "unlock", CLUSTER, "--region", REGION, "--force")

    assert forced.exit_code == 0, forced.output
    assert f"and its mark in AWS in {REGION} held by {theirs.id}" in forced.output
    assert "nothing recorded" in forced.output
    assert MARK not in cluster_tags()
    assert world.create({"target_instance_type": TARGET}).state is OperationState.CREATED
