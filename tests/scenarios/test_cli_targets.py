"""`--instance` beside `--cluster` (DESIGN section 10): exactly one target per command, refused with exit 2
and nothing written otherwise; a DB instance reaches the planner as `instance_id`; reports name it as
`instance NAME`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result

from rds_maint.model import Operation, Outcome, StepResult
from rds_maint.notify import message_for
from tests.helpers.world import CLUSTER, REGION, World

INSTANCE = "orders-db"
MULTI_AZ = "ledger"
STORAGE = ["--type", "storage_type_change", "--param", "target_storage_type=gp3", "--region", REGION]
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:rds-maint-machine"


def cli(world: World, *args: str) -> Result:
    return world.cli([*args, "--store", world.store_url])


def refused(world: World, result: Result) -> str:
    """Exit 2, no operation stored, nothing changed in AWS; the output."""
    assert result.exit_code == 2, result.output
    assert world.store.list_operations() == []
    assert world.mutating_calls() == []
    return result.output


@pytest.fixture
def instance(world: World) -> str:
    return world.sim.seed_db_instance(INSTANCE, storage_type="gp2", allocated_storage=500)


@pytest.mark.parametrize(
    "command",
    [["plan"], ["create"], ["run", "--yes"], ["start-execution", "--yes", "--state-machine-arn", ARN]],
)
def test_both_targets_are_a_usage_error_before_anything_is_read(
    world: World, cluster_1w2r: list[str], instance: str, command: list[str]
) -> None:
    output = refused(world, cli(world, *command, *STORAGE, "--cluster", CLUSTER, "--instance", INSTANCE))
    assert "give --cluster or --instance, not both" in output
    assert f"--cluster {CLUSTER} and --instance {INSTANCE}" in output
    assert [c.operation for c in world.sim.calls] == []  # not even a describe


@pytest.mark.parametrize("command", [["plan"], ["create"], ["run", "--yes"]])
def test_no_target_says_which_flags_name_one(world: World, command: list[str]) -> None:
    output = refused(world, cli(world, *command, *STORAGE))
    assert "--cluster or --instance is required" in output


def test_instance_reaches_the_planner_as_a_db_instance(world: World, instance: str) -> None:
    """`--instance` becomes the request's instance_id: the DB instance's own plan, on the instance."""
    result = cli(world, "plan", *STORAGE, "--instance", INSTANCE, "--output", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["instance_id"] == INSTANCE and plan["target_type"] == "db_instance"
    assert "modify_db_instance_storage" in [s["action"] for s in plan["steps"]]
    assert world.store.list_operations() == [] and world.mutating_calls() == []


def test_the_instance_flag_replaces_the_target_of_an_input_file(
    world: World, cluster_1w2r: list[str], instance: str, tmp_path: Path
) -> None:
    path = tmp_path / "request.json"
    request = {"type": "storage_type_change", "cluster_id": CLUSTER, "region": REGION}
    path.write_text(json.dumps({**request, "params": {"target_storage_type": "gp3"}}))
    result = cli(world, "plan", "--input", str(path), "--instance", INSTANCE, "--output", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["instance_id"] == INSTANCE and plan["target_type"] == "db_instance"


def test_a_multi_az_db_cluster_is_planned_as_one(world: World) -> None:
    world.sim.seed_multi_az_cluster(MULTI_AZ)
    result = cli(
        world, "plan", "--type", "instance_cycle", "--cluster", MULTI_AZ, "--region", REGION, "--output", "json"
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["target_type"] == "multi_az_cluster"
    assert not any(s["action"] == "create_temp_instance" for s in plan["steps"])  # not the Aurora model


def test_a_cluster_member_named_as_an_instance_is_refused(world: World, cluster_1w2r: list[str]) -> None:
    output = refused(world, cli(world, "plan", *STORAGE, "--instance", cluster_1w2r[0]))
    assert cluster_1w2r[0] in output and CLUSTER in output


def _instance_operation(world: World, name: str) -> Operation:
    """An operation on a DB instance as the store keeps it (the instance plans are other helpers')."""
    aurora = world.create({"target_instance_type": "db.r6g.xlarge"})
    op = aurora.model_copy(
        update={
            "id": f"{name}-20260105-020000-abcdef",
            "cluster_id": None,
            "instance_id": name,
            "target_type": "db_instance",
        }
    )
    world.store.create(op, [])
    return op


def test_list_filters_by_instance_and_names_it(world: World, cluster_1w2r: list[str]) -> None:
    # A DB instance that bears the cluster's name too: --cluster and --instance tell them apart.
    on_instance = _instance_operation(world, CLUSTER)
    [on_cluster] = [o for o in world.store.list_operations() if o.cluster_id == CLUSTER]

    by_instance = json.loads(cli(world, "list", "--instance", CLUSTER, "--output", "json").output)
    assert [row["id"] for row in by_instance] == [on_instance.id]
    assert by_instance[0]["instance_id"] == CLUSTER and by_instance[0]["cluster_id"] is None
    by_cluster = json.loads(cli(world, "list", "--cluster", CLUSTER, "--output", "json").output)
    assert [row["id"] for row in by_cluster] == [on_cluster.id]

    table = cli(world, "list").output.splitlines()
    [instance_row] = [line for line in table if line.startswith(on_instance.id)]
    [cluster_row] = [line for line in table if line.startswith(on_cluster.id)]
    assert f"instance {CLUSTER}" in instance_row and f"instance {CLUSTER}" not in cluster_row

    both = cli(world, "list", "--cluster", CLUSTER, "--instance", CLUSTER)
    assert both.exit_code == 2 and "not both" in both.output


def test_status_names_the_instance(world: World, cluster_1w2r: list[str]) -> None:
    op = _instance_operation(world, INSTANCE)
    shown = cli(world, "status", op.id)
    assert shown.exit_code == 0, shown.output
    assert f"Operation {op.id}: instance_type_change on instance {INSTANCE} ({REGION})" in shown.output


def test_unlock_takes_one_target(world: World, cluster_1w2r: list[str]) -> None:
    for args in (["unlock"], ["unlock", CLUSTER, "--instance", INSTANCE], ["unlock", "--cluster", CLUSTER, CLUSTER]):
        result = cli(world, *args, "--region", REGION)
        assert result.exit_code == 2, result.output
        assert "rds-maint unlock CLUSTER_ID" in result.output or "name one target" in result.output
    by_flag = cli(world, "unlock", "--cluster", CLUSTER, "--region", REGION)
    assert by_flag.exit_code == 0 and f"Cluster {CLUSTER} in {REGION} is not locked." in by_flag.output


def test_unlock_an_instance(world: World, instance: str) -> None:
    result = cli(world, "unlock", "--instance", INSTANCE, "--region", REGION)
    assert result.exit_code == 0, result.output
    assert f"Instance {INSTANCE} in {REGION} is not locked." in result.output


def test_the_plan_of_an_instance_shows_its_zones_and_storage(world: World, instance: str) -> None:
    result = cli(world, "plan", *STORAGE, "--param", "iops=15000", "--instance", INSTANCE)
    assert result.exit_code == 0, result.output
    assert f"storage_type_change on instance {INSTANCE} in {REGION}" in result.output
    assert "Instance: postgres 16.4, db.m6g.large; Multi-AZ: primary in us-east-1a" in result.output
    assert "Storage: gp2 500 GiB" in result.output
    plan = json.loads(cli(world, "plan", *STORAGE, "--param", "iops=15000", "--instance", INSTANCE, "--output",
                          "json").output)  # fmt: skip
    assert (plan["target_type"], plan["instance_id"], plan["cluster_id"]) == ("db_instance", INSTANCE, None)


def test_a_notice_names_the_instance(world: World, cluster_1w2r: list[str]) -> None:
    op = _instance_operation(world, INSTANCE)
    done = StepResult(
        operation_id=op.id, operation_state="failed", step_index=0, step_name=None, step_action=None,
        step_state=None, outcome=Outcome.FAILED,
    )  # fmt: skip
    text = message_for(op, done) or ""
    assert text.startswith(f"rds-maint: instance_type_change on instance {INSTANCE} ({REGION}), operation {op.id}")
