"""engine_upgrade of an RDS DB instance through Blue/Green, end to end on the simulator.

The simulator builds the green instance on the virtual clock, refuses a switchover until green is
ready, renames blue `<name>-old1` at the switchover and lets green take the name. What is asserted is
what a person would see in AWS afterwards: the instance's name, version and class, what is left over.
"""

from __future__ import annotations

from typing import Any

import pytest

from rds_maint.errors import BadInput
from rds_maint.model import Operation, OperationState, Outcome, StepResult
from rds_maint.names import final_snapshot_name
from rds_maint.planning.estimate import estimate_steps
from rds_maint.plans import rollback_limits
from rds_maint.progress import drive
from rds_sim import SimulatedCrash
from tests.helpers.world import REGION, World

DB = "orders-db"
OLD = f"{DB}-old1"
MYSQL_SOURCE, MYSQL_TARGET = "8.0.36", "8.4.3"
PLANNED_PAUSE = "Paused before step"


def request(params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "engine_upgrade", "instance_id": DB, "region": REGION, "params": params, **extra}


def create(world: World, **params: Any) -> Operation:
    params.setdefault("target_engine_version", MYSQL_TARGET)
    return world.engine.create(request(params))


def seed_mysql(world: World, **settings: Any) -> None:
    world.sim.seed_db_instance(
        DB, engine="mysql", engine_version=MYSQL_SOURCE, instance_class="db.m6g.large", **settings
    )


def run(world: World, op_id: str, *, answer: str | None = "continue") -> tuple[StepResult, list[str]]:
    """Drive to an end, answering each planned pause with `answer`; a simulated crash is survived by a
    fresh engine on the same store, as after a process restart."""
    engine = world.engine
    engine.start(op_id)
    pauses: list[str] = []
    while True:
        try:
            result = drive(engine, op_id, world.clock.sleep)
        except SimulatedCrash:
            engine = world.new_engine()
            continue
        if result.outcome is Outcome.INTERVENTION and answer and (result.pause_reason or "").startswith(PLANNED_PAUSE):
            pauses.append(str(result.step_name))
            engine.resume(op_id, answer)
            continue
        return result, pauses


def applied(world: World, operation: str) -> list[dict[str, Any]]:
    return [c.params for c in world.sim.applied_calls(operation)]


def instances(world: World) -> dict[str, dict[str, Any]]:
    rows = world.gateway().call("DescribeDBInstances")["DBInstances"]
    return {str(r["DBInstanceIdentifier"]): r for r in rows}


def deployments(world: World) -> list[dict[str, Any]]:
    return list(world.gateway().call("DescribeBlueGreenDeployments")["BlueGreenDeployments"])


def assert_upgraded(world: World, version: str = MYSQL_TARGET) -> dict[str, Any]:
    left = instances(world)
    assert sorted(left) == [DB], "only the upgraded instance is left"
    assert left[DB]["EngineVersion"] == version and left[DB]["DBInstanceStatus"] == "available"
    assert deployments(world) == []
    return left[DB]


# -- happy paths ---------------------------------------------------------------------------------


def test_mysql_upgrade_with_every_pause_answered_ends_on_the_target_with_nothing_left(world: World) -> None:
    seed_mysql(world)
    op = create(world)
    assert op.instance_id == DB and op.target_type == "db_instance"

    result, pauses = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert pauses == ["switchover", "cleanup"]
    assert_upgraded(world)
    [created] = applied(world, "CreateBlueGreenDeployment")
    assert created["Source"].endswith(f":db:{DB}") and created["TargetEngineVersion"] == MYSQL_TARGET
    assert "TargetDBClusterParameterGroupName" not in created
    assert {"Key": "rds-maint:operation-id", "Value": op.id} in created["Tags"]
    assert len(applied(world, "SwitchoverBlueGreenDeployment")) == 1
    assert ["DeleteTarget" in c for c in applied(world, "DeleteBlueGreenDeployment")] == [False]
    # only the old blue instance is deleted, after a final snapshot at the old version
    [deleted] = applied(world, "DeleteDBInstance")
    snapshot = final_snapshot_name(OLD, op.id)
    assert deleted["DBInstanceIdentifier"] == OLD and deleted["FinalDBSnapshotIdentifier"] == snapshot
    [taken] = world.gateway().call("DescribeDBSnapshots", DBSnapshotIdentifier=snapshot)["DBSnapshots"]
    assert taken["EngineVersion"] == MYSQL_SOURCE
    assert world.store.load(op.id).state is OperationState.COMPLETED


def test_target_class_is_applied_to_green_and_kept_after_the_switchover(world: World) -> None:
    seed_mysql(world)
    op = create(world, target_db_instance_class="db.m6g.xlarge", pause_before_switchover=False)
    assert "DBInstanceClass=db.m6g.xlarge" in next(s for s in op.steps if s.name == "create_blue_green").description

    result, pauses = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert pauses == ["cleanup"]
    [created] = applied(world, "CreateBlueGreenDeployment")
    assert created["TargetDBInstanceClass"] == "db.m6g.xlarge"
    upgraded = assert_upgraded(world)
    assert upgraded["DBInstanceClass"] == "db.m6g.xlarge"
    # green was built with the new class: the instance itself was never modified
    assert applied(world, "ModifyDBInstance") == []


# -- refusals before anything is written ---------------------------------------------------------


def assert_refused(world: World, params: dict[str, Any], *needles: str) -> None:
    before = world.mutating_calls()
    with pytest.raises(BadInput) as refused:
        world.engine.create(request(params))
    for needle in needles:
        assert needle in str(refused.value)
    assert world.mutating_calls() == before
    assert world.store.list_operations() == []


def test_postgres_major_upgrade_without_logical_replication_is_refused(world: World) -> None:
    world.sim.seed_db_instance(DB, engine="postgres", engine_version="15.4")
    assert_refused(
        world,
        {"target_engine_version": "16.4"},
        "rds.logical_replication=1",
        "default group",
        "method in_place",
    )


def test_a_version_that_is_no_upgrade_target_is_refused_with_the_valid_ones(world: World) -> None:
    seed_mysql(world)
    assert_refused(world, {"target_engine_version": "8.0.35"}, "not a valid upgrade target", MYSQL_TARGET)


def test_mysql_without_automated_backups_is_refused_with_the_command(world: World) -> None:
    seed_mysql(world)
    world.gateway().call("ModifyDBInstance", DBInstanceIdentifier=DB, BackupRetentionPeriod=0, ApplyImmediately=True)
    world.clock.sleep(3600)
    assert_refused(world, {"target_engine_version": MYSQL_TARGET}, "--backup-retention-period 1")


def test_green_storage_rules_are_checked_before_anything_is_written(world: World) -> None:
    seed_mysql(world)
    assert_refused(
        world,
        {"target_engine_version": MYSQL_TARGET, "target_storage_type": "gp3", "target_iops": 12000},
        "fixed baseline",
    )
    assert_refused(
        world,
        {"target_engine_version": MYSQL_TARGET, "target_storage_throughput": 500},
        "only to gp3",
    )


def test_a_read_replica_as_source_is_refused_with_its_primary(world: World) -> None:
    seed_mysql(world)
    replica = f"{DB}-replica"
    world.gateway().call("CreateDBInstanceReadReplica", DBInstanceIdentifier=replica, SourceDBInstanceIdentifier=DB)
    world.clock.sleep(3600)
    before = world.mutating_calls()
    with pytest.raises(BadInput) as refused:
        world.engine.create({**request({"target_engine_version": MYSQL_TARGET}), "instance_id": replica})
    assert f"read replica of {DB}" in str(refused.value) and f"upgrade {DB} instead" in str(refused.value)
    assert world.mutating_calls() == before


def test_an_instance_already_in_a_deployment_is_refused(world: World) -> None:
    seed_mysql(world)
    arn = instances(world)[DB]["DBInstanceArn"]
    world.gateway().call("CreateBlueGreenDeployment", BlueGreenDeploymentName="someone-else", Source=arn)
    assert_refused(world, {"target_engine_version": MYSQL_TARGET}, "already has Blue/Green deployment")


def test_a_cluster_parameter_group_is_refused_for_an_instance(world: World) -> None:
    seed_mysql(world)
    assert_refused(
        world,
        {"target_engine_version": MYSQL_TARGET, "db_cluster_parameter_group_name": "orders-cluster"},
        "db_instance_parameter_group_name",
    )


# -- abort and rollback ----------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["abort", "rollback"])
def test_abort_or_rollback_before_switchover_deletes_deployment_and_green(world: World, answer: str) -> None:
    seed_mysql(world)
    op = create(world)
    result, _ = run(world, op.id, answer=None)
    assert result.step_name == "switchover"
    assert len(instances(world)) == 2  # blue and green
    assert rollback_limits(world.store.load(op.id)) is None  # nothing it cannot undo yet

    world.engine.resume(op.id, answer)
    result, _ = run(world, op.id, answer=None)

    assert world.store.load(op.id).state is (
        OperationState.ROLLED_BACK if answer == "rollback" else OperationState.FAILED
    )
    assert [c["DeleteTarget"] for c in applied(world, "DeleteBlueGreenDeployment")] == [True]
    assert applied(world, "SwitchoverBlueGreenDeployment") == []
    assert_upgraded(world, MYSQL_SOURCE)  # only the original instance, at its own version


def test_abort_while_green_is_being_built_waits_for_the_build_then_deletes_it(world: World) -> None:
    seed_mysql(world)
    op = world.engine.create(request({"target_engine_version": MYSQL_TARGET}, pause_before_steps=["wait_green"]))
    result, _ = run(world, op.id, answer=None)
    assert result.step_name == "wait_green"
    [deployment] = deployments(world)
    assert deployment["Status"] == "PROVISIONING"

    world.engine.resume(op.id, "abort")
    result, _ = run(world, op.id, answer=None)

    assert world.store.load(op.id).state is OperationState.FAILED
    assert [c["DeleteTarget"] for c in applied(world, "DeleteBlueGreenDeployment")] == [True]
    assert_upgraded(world, MYSQL_SOURCE)


def test_rollback_after_switchover_keeps_the_old_instance_and_explains(world: World) -> None:
    seed_mysql(world)
    op = create(world)
    run(world, op.id, answer=None)
    world.engine.resume(op.id, "continue")  # switch over
    result, _ = run(world, op.id, answer=None)
    assert result.step_name == "cleanup"
    limits = rollback_limits(world.store.load(op.id))
    assert limits is not None and "cannot switch a Blue/Green deployment back" in limits and OLD in limits

    world.engine.resume(op.id, "rollback", confirm=True)
    result, _ = run(world, op.id, answer=None)

    assert result.outcome is Outcome.INTERVENTION
    reason = str(result.pause_reason)
    assert OLD in reason and "rename" in reason and "cannot switch a Blue/Green deployment back" in reason
    left = instances(world)
    assert left[DB]["EngineVersion"] == MYSQL_TARGET and left[OLD]["EngineVersion"] == MYSQL_SOURCE
    assert applied(world, "DeleteDBInstance") == [] and applied(world, "DeleteBlueGreenDeployment") == []


# -- crashes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    ["CreateBlueGreenDeployment", "SwitchoverBlueGreenDeployment", "DeleteBlueGreenDeployment", "DeleteDBInstance"],
)
def test_a_crash_right_after_a_call_converges_without_repeating_it(world: World, operation: str) -> None:
    seed_mysql(world)
    world.sim.faults.crash_after(operation)
    op = create(world)

    result, _ = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert any(c.crashed for c in world.sim.calls), "the crash was not injected"
    assert len(applied(world, operation)) == 1
    assert_upgraded(world)


# -- PostgreSQL major, read replicas ---------------------------------------------------------------

PG_GROUP = "orders-pg15"


def seed_postgres_with_logical_replication(world: World) -> None:
    """A PostgreSQL 15.4 instance whose custom DB parameter group has rds.logical_replication=1, applied."""
    world.sim.seed_db_instance(DB, engine="postgres", engine_version="15.4")
    gateway = world.gateway()
    gateway.create_parameter_group("instance", PG_GROUP, "postgres15", "orders", {})
    gateway.modify_parameter_group(
        "instance",
        PG_GROUP,
        [
            {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"},
            {"ParameterName": "work_mem", "ParameterValue": "65536", "ApplyMethod": "immediate"},
        ],
    )
    gateway.call("ModifyDBInstance", DBInstanceIdentifier=DB, DBParameterGroupName=PG_GROUP, ApplyImmediately=True)
    world.clock.sleep(3600)
    world.sim.set_parameter_apply_status(DB, "in-sync")


def test_postgres_major_upgrade_copies_the_group_and_ends_on_the_new_major(world: World) -> None:
    seed_postgres_with_logical_replication(world)
    op = create(world, target_engine_version="16.4", pause_before_switchover=False, pause_before_cleanup=False)
    assert "settle_parameter_groups" in [s.name for s in op.steps]

    result, pauses = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert pauses == []
    upgraded = assert_upgraded(world, "16.4")
    [created] = applied(world, "CreateBlueGreenDeployment")
    copy = created["TargetDBParameterGroupName"]
    assert copy != PG_GROUP and upgraded["DBParameterGroups"][0]["DBParameterGroupName"] == copy
    values = {
        str(p["ParameterName"]): str(p["ParameterValue"])
        for p in world.gateway().parameters("instance", copy, source="user")
    }
    assert values["rds.logical_replication"] == "1" and values["work_mem"] == "65536"


def test_read_replicas_get_green_copies_and_their_old_ones_are_deleted(world: World) -> None:
    seed_mysql(world)
    world.gateway().call(
        "CreateDBInstanceReadReplica", DBInstanceIdentifier=f"{DB}-replica", SourceDBInstanceIdentifier=DB
    )
    world.clock.sleep(3600)
    op = create(world, pause_before_switchover=False, pause_before_cleanup=False)
    create_step = next(s for s in op.steps if s.name == "create_blue_green")
    assert f"green read replicas of {DB}-replica" in create_step.description

    result, _ = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    left = instances(world)
    assert sorted(left) == [DB, f"{DB}-replica"]
    assert {r["EngineVersion"] for r in left.values()} == {MYSQL_TARGET}
    deleted = [c["DBInstanceIdentifier"] for c in applied(world, "DeleteDBInstance")]
    assert deleted == [f"{DB}-replica-old1", OLD]  # the old replica first, then the old primary
    assert deployments(world) == []


def test_a_storage_change_waits_for_green_to_leave_storage_optimization_before_switching(world: World) -> None:
    seed_mysql(world)
    op = create(
        world,
        target_storage_type="gp3",
        target_allocated_storage=500,
        pause_before_switchover=False,
        pause_before_cleanup=False,
    )
    estimate = estimate_steps(op.steps)
    assert [i.kind for i in estimate.interruptions] == ["switchover"]

    result, _ = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    upgraded = assert_upgraded(world)
    assert upgraded["StorageType"] == "gp3" and upgraded["AllocatedStorage"] == 500
    # asked for once, when green was ready: never refused for storage-optimization
    assert len(world.sim.applied_calls("SwitchoverBlueGreenDeployment")) == 1
    assert [c for c in world.sim.calls if c.operation == "SwitchoverBlueGreenDeployment" and c.error_code] == []


def test_deletion_protection_copied_to_green_pauses_the_abort_with_the_command(world: World) -> None:
    seed_mysql(world)
    gateway = world.gateway()
    gateway.call("ModifyDBInstance", DBInstanceIdentifier=DB, DeletionProtection=True, ApplyImmediately=True)
    world.clock.sleep(600)
    op = create(world)
    run(world, op.id, answer=None)  # the switchover pause: green is built, with blue's deletion protection
    world.engine.resume(op.id, "abort")

    result, _ = run(world, op.id, answer=None)

    assert result.outcome is Outcome.INTERVENTION
    green = next(name for name in instances(world) if name != DB)
    assert f"--db-instance-identifier {green} --no-deletion-protection" in str(result.pause_reason)
    assert applied(world, "DeleteBlueGreenDeployment") == []
    gateway.call("ModifyDBInstance", DBInstanceIdentifier=green, DeletionProtection=False, ApplyImmediately=True)
    world.engine.resume(op.id, "continue")
    result, _ = run(world, op.id, answer=None)

    assert world.store.load(op.id).state is OperationState.FAILED
    left = instances(world)
    assert sorted(left) == [DB] and left[DB]["DeletionProtection"] is True  # blue keeps its own
    assert deployments(world) == []


# -- RDS Proxy in front of the instance ------------------------------------------------------------


def test_a_proxy_in_front_of_the_instance_is_checked_before_and_serves_the_upgraded_instance_after(
    world: World,
) -> None:
    seed_mysql(world)
    world.sim.proxies.seed_instance_proxy("orders-proxy", DB)
    op = create(world)

    result, pauses = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert pauses == ["switchover", "cleanup"]
    assert_upgraded(world)
    stored = world.store.load(op.id)
    [checked] = [s for s in stored.steps if s.action == "check_instance_proxies"]
    assert [p["name"] for p in checked.result["proxies"]] == ["orders-proxy"]
    [verified] = [s for s in stored.steps if s.action == "verify_instance_proxies"]
    assert verified.result["proxies_ok"] == ["orders-proxy"]
    targets = world.gateway().call("DescribeDBProxyTargets", DBProxyName="orders-proxy")["Targets"]
    assert [(t["RdsResourceId"], t["TargetHealth"]["State"]) for t in targets] == [(DB, "AVAILABLE")]
    # rds-maint never re-registers a live target (it would drop the proxy's connections)
    assert applied(world, "RegisterDBProxyTargets") == [] and applied(world, "DeregisterDBProxyTargets") == []


def test_a_proxy_left_on_the_old_instance_pauses_with_the_command(world: World) -> None:
    seed_mysql(world)
    world.sim.proxies.seed_instance_proxy("orders-proxy", DB)
    world.sim.proxies.fail_to_follow_switchover("orders-proxy")
    op = create(world)

    result, _ = run(world, op.id)

    assert result.outcome is Outcome.INTERVENTION
    assert result.step_name == "verify_proxies"
    assert "aws rds register-db-proxy-targets --db-proxy-name orders-proxy --db-instance-identifiers orders-db" in str(
        result.pause_reason
    )
    assert applied(world, "RegisterDBProxyTargets") == []


def test_the_pause_before_the_switchover_names_the_green_instance_to_check(world: World) -> None:
    seed_mysql(world)
    result = world.cli(
        ["run", "--type", "engine_upgrade", "--instance", DB, "--region", REGION, "--yes",
         "--param", f"target_engine_version={MYSQL_TARGET}", "--store", world.store_url]
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    [green] = [name for name in instances(world) if name.startswith(f"{DB}-green-")]
    assert f"Before answering continue, check the green instance {green}:" in result.output
    assert f"  endpoint: {instances(world)[green]['Endpoint']['Address']}" in result.output
    assert f"aws rds describe-db-instances --db-instance-identifier {green} --region {REGION}" in result.output
