"""engine_upgrade (Blue/Green) end to end on the simulated Aurora: the final cluster is what is asserted.

The simulator builds the green environment for ~40 virtual minutes, switches over for tens of
seconds after a lag, renames blue to `<id>-old1`, and lets proxies follow; every test runs on the
virtual clock, so none of that time is spent for real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from rds_maint.cli import main
from rds_maint.errors import BusyAwsError, PersonAwsError
from rds_maint.model import OperationState, Outcome
from rds_maint.names import final_snapshot_name, parameter_group_copy_name
from rds_maint.progress import drive
from rds_sim import Catalogue
from tests.helpers.upgrade import (
    INSTANCE_VALUES,
    MEMBERS,
    OLD,
    PROXY,
    SOURCE,
    TARGET,
    WRITER,
    applied,
    assert_only_the_original_cluster,
    assert_refused,
    assert_upgraded,
    create,
    request,
    run,
    seed,
    user_values,
)
from tests.helpers.world import CLUSTER, REGION, World


@pytest.fixture
def upgradable(world: World) -> list[str]:
    return seed(world)


@pytest.fixture
def with_proxy(world: World) -> list[str]:
    return seed(world, proxy=True)


# -- happy paths -------------------------------------------------------------------------------


def test_upgrade_with_proxy_ends_at_the_target_with_nothing_left_over(world: World, with_proxy: list[str]) -> None:
    op = create(world)
    result, pauses = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED
    assert pauses == ["switchover", "cleanup"]
    assert_upgraded(world, MEMBERS, proxy=True)
    [created] = applied(world, "CreateBlueGreenDeployment")
    assert created["TargetEngineVersion"] == TARGET
    assert {"Key": "rds-maint:operation-id", "Value": op.id} in created["Tags"]
    assert [c["SwitchoverTimeout"] for c in applied(world, "SwitchoverBlueGreenDeployment")] == [300]
    # after the switchover AWS refuses DeleteTarget, even false: the clean-up leaves it out
    assert ["DeleteTarget" in c for c in applied(world, "DeleteBlueGreenDeployment")] == [False]
    [deleted] = applied(world, "DeleteDBCluster")
    assert deleted["DBClusterIdentifier"] == OLD
    snapshot = final_snapshot_name(OLD, op.id)
    assert deleted["FinalDBSnapshotIdentifier"] == snapshot
    snapshots = world.gateway().call("DescribeDBClusterSnapshots", DBClusterSnapshotIdentifier=snapshot)
    assert snapshots["DBClusterSnapshots"][0]["EngineVersion"] == SOURCE
    # nothing is deleted that was not the old blue cluster's
    assert {c["DBInstanceIdentifier"] for c in applied(world, "DeleteDBInstance")} == {f"{m}-old1" for m in MEMBERS}
    assert applied(world, "RegisterDBProxyTargets") == applied(world, "DeregisterDBProxyTargets") == []
    stored = world.store.load(op.id)
    assert stored.state is OperationState.COMPLETED
    types = [e.type for e in world.store.events(op.id)]
    assert types.count("operation_paused") == 2 and "proxy_target_repaired" not in types


def test_custom_parameter_groups_are_carried_over_with_their_values(world: World, upgradable: list[str]) -> None:
    op = create(world)
    result, _ = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED
    cluster_group = parameter_group_copy_name(CLUSTER, TARGET, "cluster")
    instance_group = parameter_group_copy_name(CLUSTER, TARGET, "instance")
    described = world.gateway().describe_cluster(CLUSTER)
    assert described.parameter_group == cluster_group
    assert {m.instance.parameter_group for m in described.members} == {instance_group}
    group = world.gateway().parameter_group("cluster", cluster_group)
    assert group is not None and group["DBParameterGroupFamily"] == "aurora-postgresql16"
    # vacuum_defer_cleanup_age is gone in PostgreSQL 16: not copied, and said so
    assert user_values(world, "cluster", cluster_group) == {
        "rds.logical_replication": "1",
        "max_replication_slots": "30",
    }
    assert user_values(world, "instance", instance_group) == INSTANCE_VALUES
    skipped = [e for e in world.store.events(op.id) if e.type == "parameters_not_copied"]
    assert len(skipped) == 1 and "vacuum_defer_cleanup_age" in skipped[0].message
    tags = world.gateway().list_tags(str(group["DBClusterParameterGroupArn"]))
    assert tags["rds-maint:operation-id"] == op.id


def test_single_instance_without_proxy_and_without_pauses(world: World) -> None:
    seed(world, readers=0, instance_values=False)
    op = create(world, pause_before_switchover=False, pause_before_cleanup=False)
    result, pauses = run(world, op.id, answer=None)

    assert result.outcome is Outcome.COMPLETED
    assert pauses == []
    assert_upgraded(world, [WRITER], proxy=False)
    described = world.gateway().describe_cluster(CLUSTER)
    assert described.members[0].instance.parameter_group == "default.aurora-postgresql16"  # default maps to default
    steps = [s.name for s in world.store.load(op.id).steps]
    assert "check_proxies" in steps and "keep_old_cluster" not in steps


def test_skip_proxy_retarget_leaves_proxies_alone(world: World, with_proxy: list[str]) -> None:
    op = create(world, skip_proxy_retarget=True, pause_before_switchover=False, pause_before_cleanup=False)
    steps = [s.name for s in op.steps]
    assert "check_proxies" not in steps and "verify_proxies" not in steps
    result, _ = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED
    assert world.sim.cluster_view(CLUSTER).engine_version == TARGET
    assert not any(c.operation.startswith("DescribeDBProx") for c in world.sim.calls)


def test_retention_keeps_the_old_cluster_for_the_hours_asked(world: World, upgradable: list[str]) -> None:
    params = {"target_engine_version": TARGET, "old_cluster_retention_hours": 30, "pause_before_cleanup": False}
    op = world.engine.create(request(params, wait_timeout=3600))
    result, _ = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED
    assert_upgraded(world, MEMBERS, proxy=False)
    switched = world.sim.successful_calls("SwitchoverBlueGreenDeployment")[0].at
    first_delete = min(c.at for c in world.sim.successful_calls("DeleteBlueGreenDeployment"))
    assert (first_delete - switched).total_seconds() >= 30 * 3600
    assert (first_delete - switched).total_seconds() < 31 * 3600
    # a planned wait: the operation's one-hour wait_timeout did not pause it
    types = [e.type for e in world.store.events(op.id)]
    assert "operation_paused" in types and types.count("operation_paused") == 1  # only before the switchover


def test_plan_shows_steps_pauses_and_pending_maintenance_warning(world: World, with_proxy: list[str]) -> None:
    world.sim.maintenance.add(cluster_id=CLUSTER, action="system-update", description="Aurora OS update")
    plan = world.cli(["plan", "--store", world.store_url, "--type", "engine_upgrade", "--cluster", CLUSTER,
               "--region", REGION, "--param", f"target_engine_version={TARGET}"],
    )  # fmt: skip
    assert plan.exit_code == 0, plan.output
    text = " ".join(plan.output.split())
    assert "Warning: pending maintenance on orders-prod: system-update (Aurora OS update)" in text
    assert "Pauses before the switchover" in text and "Pauses before the clean-up" in text
    assert f"{PROXY} (available)" in text and "never deregisters or registers a proxy target" in text
    for step in ("create_blue_green", "wait_green", "switchover", "verify_proxies", "cleanup", "delete_old_cluster"):
        assert step in text
    # a version is text, never a number: 16.10 must not become 16.1
    refused = world.cli(["plan", "--store", world.store_url, "--type", "engine_upgrade", "--cluster", CLUSTER,
               "--region", REGION, "--param", "target_engine_version=16.10"],
    )  # fmt: skip
    assert refused.exit_code == 2 and "target_engine_version 16.10 is not a known" in refused.output
    assert world.store.list_operations() == [] and world.mutating_calls() == []


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "needles"),
    [
        ({"target_engine_version": SOURCE}, ["target_engine_version", "already runs"]),
        ({"target_engine_version": "14.9"}, ["target_engine_version", "downgrade"]),
        ({"target_engine_version": "99.1"}, ["target_engine_version", "not a known"]),
        ({}, ["target_engine_version"]),
        ({"target_engine_version": TARGET, "switchover_timeout": 10}, ["switchover_timeout"]),
        ({"target_engine_version": TARGET, "switchover_timeout": 3601}, ["switchover_timeout"]),
        (
            {"target_engine_version": TARGET, "db_cluster_parameter_group_name": "nope"},
            ["db_cluster_parameter_group_name", "nope"],
        ),
        (
            {"target_engine_version": TARGET, "db_instance_parameter_group_name": "nope"},
            ["db_instance_parameter_group_name"],
        ),
        (
            {"target_engine_version": TARGET, "db_cluster_parameter_group_name": "default.aurora-postgresql15"},
            ["db_cluster_parameter_group_name", "aurora-postgresql16"],
        ),
        (
            {"target_engine_version": TARGET, "db_instance_parameter_group_name": "default.aurora-postgresql15"},
            ["db_instance_parameter_group_name", "aurora-postgresql16"],
        ),
    ],
)
def test_bad_params_are_refused(
    world: World, upgradable: list[str], tmp_path: Path, params: dict[str, Any], needles: list[str]
) -> None:
    assert_refused(world, params, *needles, tmp_path=tmp_path)


def test_a_target_that_is_not_a_valid_upgrade_target_is_refused(
    world: World, upgradable: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    catalogue = world.sim.catalogue
    every = Catalogue.upgrade_targets
    monkeypatch.setattr(
        catalogue, "upgrade_targets", lambda e, v: [t for t in every(catalogue, e, v) if t.engine_version != "17.4"]
    )
    assert_refused(world, {"target_engine_version": "17.4"}, "17.4", "not a valid upgrade target", "16.4")


def test_logical_replication_off_is_refused(world: World, tmp_path: Path) -> None:
    world.sim.seed_cluster(CLUSTER, engine="aurora-postgresql", engine_version=SOURCE, readers=1)
    assert_refused(
        world,
        {"target_engine_version": TARGET},
        "rds.logical_replication",
        "default.aurora-postgresql15",
        tmp_path=tmp_path,
    )


def test_writer_pending_reboot_is_refused(world: World, upgradable: list[str]) -> None:
    world.sim.set_parameter_apply_status(WRITER, "pending-reboot")
    assert_refused(world, {"target_engine_version": TARGET}, WRITER, "pending-reboot", "reboot")


def test_aurora_mysql_without_binlog_is_refused(world: World) -> None:
    world.sim.seed_cluster(CLUSTER, engine="aurora-mysql", engine_version="8.0.mysql_aurora.3.04.0", readers=1)
    assert_refused(world, {"target_engine_version": "8.0.mysql_aurora.3.05.2"}, "binlog_format")


def test_secrets_manager_password_is_refused(world: World, upgradable: list[str]) -> None:
    world.gateway().call(
        "ModifyDBCluster", DBClusterIdentifier=CLUSTER, ManageMasterUserPassword=True, ApplyImmediately=True
    )
    assert_refused(world, {"target_engine_version": TARGET}, "Secrets Manager", "MasterUserSecret")


def test_an_existing_deployment_is_refused(world: World, upgradable: list[str]) -> None:
    gateway = world.gateway()
    arn = str(gateway.describe_cluster(CLUSTER).raw["DBClusterArn"])
    other = gateway.create_blue_green_deployment(
        name="someone-else",
        source_arn=arn,
        target_engine_version="15.7",
        cluster_parameter_group=None,
        instance_parameter_group=None,
        tags={},
    )
    assert_refused(world, {"target_engine_version": TARGET}, other["BlueGreenDeploymentIdentifier"], "one per cluster")


def test_a_class_not_orderable_at_the_target_is_refused(world: World) -> None:
    world.sim.seed_cluster(CLUSTER, engine="aurora-postgresql", engine_version="13.12", instance_class="db.r4.large")
    world.sim.parameter_groups.use_custom_groups(CLUSTER, cluster_parameters={"rds.logical_replication": "1"})
    assert_refused(world, {"target_engine_version": "14.9"}, "db.r4.large", "not orderable", "14.9")


def test_instances_with_different_groups_need_an_explicit_group(world: World, upgradable: list[str]) -> None:
    gateway = world.gateway()
    gateway.create_parameter_group("instance", "reporting-params", "aurora-postgresql15", "readers", {})
    gateway.call(
        "ModifyDBInstance",
        DBInstanceIdentifier=MEMBERS[2],
        DBParameterGroupName="reporting-params",
        ApplyImmediately=True,
    )
    assert_refused(world, {"target_engine_version": TARGET}, "db_instance_parameter_group_name", "reporting-params")


def test_a_foreign_group_under_the_copy_name_is_refused(world: World, upgradable: list[str]) -> None:
    name = parameter_group_copy_name(CLUSTER, TARGET, "cluster")
    world.gateway().create_parameter_group("cluster", name, "aurora-postgresql16", "not ours", {})
    assert_refused(
        world, {"target_engine_version": TARGET}, name, "not made by rds-maint", "db_cluster_parameter_group_name"
    )


def test_explicit_groups_of_the_target_family_win(world: World, upgradable: list[str]) -> None:
    gateway = world.gateway()
    gateway.create_parameter_group("cluster", "mine-16", "aurora-postgresql16", "mine", {})
    gateway.modify_parameter_group(
        "cluster",
        "mine-16",
        [{"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}],
    )
    op = create(
        world, db_cluster_parameter_group_name="mine-16", pause_before_switchover=False, pause_before_cleanup=False
    )
    result, _ = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED
    assert world.gateway().describe_cluster(CLUSTER).parameter_group == "mine-16"
    # the test made mine-16; the operation copied only the instance group
    assert [c["DBClusterParameterGroupName"] for c in applied(world, "CreateDBClusterParameterGroup")] == ["mine-16"]
    assert len(applied(world, "CreateDBParameterGroup")) == 1


# -- failures and pauses ---------------------------------------------------------------------------


def test_a_failed_switchover_pauses_with_aws_reason_and_continue_tries_again(
    world: World, upgradable: list[str]
) -> None:
    world.sim.blue_green.fail_next_switchover("Switchover was rolled back: replica lag exceeded 30 seconds")
    op = create(world)
    result, _ = run(world, op.id)

    assert result.outcome is Outcome.INTERVENTION
    assert result.step_name == "switchover"
    reason = str(result.pause_reason)
    assert "replica lag exceeded 30 seconds" in reason
    assert f"{CLUSTER} -> " in reason and "SWITCHOVER_FAILED" in reason  # per-member details
    assert world.sim.cluster_view(CLUSTER).engine_version == SOURCE  # AWS rolled it back
    assert world.sim.blue_green.deployments()[0]["Status"] == "SWITCHOVER_FAILED"

    world.engine.resume(op.id, "continue")
    result, _ = run(world, op.id)
    assert result.outcome is Outcome.COMPLETED
    assert len(applied(world, "SwitchoverBlueGreenDeployment")) == 2
    assert_upgraded(world, MEMBERS, proxy=False)


def test_a_switchover_longer_than_the_timeout_fails_and_pauses(world: World, upgradable: list[str]) -> None:
    op = create(world, switchover_timeout=30)
    result, _ = run(world, op.id)

    assert result.outcome is Outcome.INTERVENTION
    assert "timed out after 30 seconds" in str(result.pause_reason)
    assert world.sim.cluster_view(CLUSTER).engine_version == SOURCE


def test_invalid_configuration_pauses_and_rollback_removes_green(world: World, upgradable: list[str]) -> None:
    world.sim.blue_green.invalidate_next("Replication degraded: unsupported DDL on the blue environment")
    op = create(world)
    result, _ = run(world, op.id)

    assert result.outcome is Outcome.INTERVENTION
    assert result.step_name == "wait_green"
    assert "INVALID_CONFIGURATION" in str(result.pause_reason) and "unsupported DDL" in str(result.pause_reason)
    world.engine.resume(op.id, "rollback")
    result, _ = run(world, op.id)
    assert result.outcome is Outcome.FAILED
    assert world.store.load(op.id).state is OperationState.ROLLED_BACK
    assert world.sim.blue_green.deployments() == []
    assert_only_the_original_cluster(world)


def test_an_unhealthy_proxy_pauses_before_the_deployment_is_created(world: World, with_proxy: list[str]) -> None:
    world.sim.proxies.set_target_health(PROXY, "UNAVAILABLE", "AUTH_FAILURE", "Proxy can't read the secret")
    op = create(world)
    result, _ = run(world, op.id)

    assert result.outcome is Outcome.INTERVENTION
    assert result.step_name == "check_proxies"
    assert PROXY in str(result.pause_reason) and "AUTH_FAILURE" in str(result.pause_reason)
    assert applied(world, "CreateBlueGreenDeployment") == []


def test_a_proxy_that_did_not_follow_pauses_with_the_commands_and_touches_nothing(
    world: World, with_proxy: list[str]
) -> None:
    world.sim.proxies.fail_to_follow_switchover(PROXY)
    op = create(world)
    result, _ = run(world, op.id)

    assert result.outcome is Outcome.INTERVENTION
    assert result.step_name == "verify_proxies"
    reason = " ".join(str(result.pause_reason).split())
    where = f"--db-proxy-name {PROXY} --target-group-name default --region {REGION}"
    assert f"aws rds deregister-db-proxy-targets {where} --db-cluster-identifiers {OLD}" in reason
    assert f"aws rds register-db-proxy-targets {where} --db-cluster-identifiers {CLUSTER}" in reason
    assert "drops the connections" in reason
    # nothing touched the proxy: it still tracks the old blue cluster, which still exists
    assert applied(world, "RegisterDBProxyTargets") == applied(world, "DeregisterDBProxyTargets") == []
    assert world.sim.proxies.tracked_clusters(PROXY) == [OLD]
    assert world.sim.blue_green.cluster_exists(OLD)
    waited = (world.clock.now() - world.sim.successful_calls("SwitchoverBlueGreenDeployment")[0].at).total_seconds()
    assert waited >= 300  # the grace period for REGISTERING targets came first

    # the person runs the two commands, then continue: the targets settle, the upgrade ends
    person = world.rds_client()
    person.deregister_db_proxy_targets(DBProxyName=PROXY, TargetGroupName="default", DBClusterIdentifiers=[OLD])
    person.register_db_proxy_targets(DBProxyName=PROXY, TargetGroupName="default", DBClusterIdentifiers=[CLUSTER])
    world.engine.resume(op.id, "continue")
    result, _ = run(world, op.id)
    assert result.outcome is Outcome.COMPLETED
    assert_upgraded(world, MEMBERS, proxy=True)
    assert len(applied(world, "RegisterDBProxyTargets")) == 1  # the person's, none from rds-maint


def test_proxy_targets_that_stay_unhealthy_pause_with_the_commands(world: World, with_proxy: list[str]) -> None:
    op = create(world, pause_before_cleanup=False)
    world.engine.start(op.id)
    result = drive(world.engine, op.id, world.clock.sleep)
    assert result.step_name == "switchover"
    world.engine.resume(op.id, "continue")
    # the switchover happens; then the proxy's instance targets fail (a secret rotated without the proxy)
    while True:
        result = world.engine.advance(op.id)
        if result.step_name == "verify_proxies":
            break
        world.clock.sleep(result.wait_seconds)
    world.sim.proxies.set_target_health(PROXY, "UNAVAILABLE", "AUTH_FAILURE", "Proxy can't read the secret")
    result = drive(world.engine, op.id, world.clock.sleep)

    assert result.outcome is Outcome.INTERVENTION and result.step_name == "verify_proxies"
    reason = str(result.pause_reason)
    assert "AUTH_FAILURE" in reason and f"aws rds register-db-proxy-targets --db-proxy-name {PROXY}" in reason
    assert applied(world, "RegisterDBProxyTargets") == applied(world, "DeregisterDBProxyTargets") == []
    assert world.sim.proxies.tracked_clusters(PROXY) == [CLUSTER]

    world.sim.proxies.clear_target_health(PROXY)
    world.engine.resume(op.id, "continue")
    result = drive(world.engine, op.id, world.clock.sleep)
    assert result.outcome is Outcome.COMPLETED
    assert_upgraded(world, MEMBERS, proxy=True)
    assert applied(world, "RegisterDBProxyTargets") == applied(world, "DeregisterDBProxyTargets") == []


# -- rollback ------------------------------------------------------------------------------------------


def test_rollback_before_switchover_deletes_the_deployment_green_and_copied_groups(
    world: World, upgradable: list[str]
) -> None:
    op = create(world)
    result, _ = run(world, op.id, answer=None)
    assert result.step_name == "switchover"  # the planned pause

    world.engine.resume(op.id, "rollback")
    result, _ = run(world, op.id, answer=None)

    assert result.outcome is Outcome.FAILED
    assert world.store.load(op.id).state is OperationState.ROLLED_BACK
    assert [c["DeleteTarget"] for c in applied(world, "DeleteBlueGreenDeployment")] == [True]
    assert applied(world, "SwitchoverBlueGreenDeployment") == []
    assert world.sim.blue_green.deployments() == []
    assert_only_the_original_cluster(world)
    for kind in ("cluster", "instance"):
        name = parameter_group_copy_name(CLUSTER, TARGET, kind)
        assert world.gateway().parameter_group(kind, name) is None


def test_rollback_after_switchover_keeps_the_old_cluster_and_explains(world: World, upgradable: list[str]) -> None:
    op = create(world)
    run(world, op.id, answer=None)
    world.engine.resume(op.id, "continue")  # switch over
    result, _ = run(world, op.id, answer=None)
    assert result.step_name == "cleanup"

    world.engine.resume(op.id, "rollback", confirm=True)  # it cannot switch back: confirmed
    result, _ = run(world, op.id, answer=None)

    assert result.outcome is Outcome.INTERVENTION
    reason = str(result.pause_reason)
    assert OLD in reason and "cannot switch a Blue/Green deployment back" in reason and "rename" in reason
    assert world.sim.blue_green.cluster_exists(OLD)
    assert world.sim.cluster_view(OLD).engine_version == SOURCE
    assert world.sim.cluster_view(CLUSTER).engine_version == TARGET
    assert applied(world, "DeleteDBCluster") == [] and applied(world, "DeleteBlueGreenDeployment") == []

    world.engine.resume(op.id, "mark_complete", comment="staying on 16.4")
    assert world.store.load(op.id).state is OperationState.ROLLED_BACK
    assert world.sim.blue_green.cluster_exists(OLD)


def test_abort_before_the_deployment_exists_changes_nothing(world: World, upgradable: list[str]) -> None:
    op = world.engine.create(request({"target_engine_version": TARGET}, pause_before_steps=["create_blue_green"]))
    result, _ = run(world, op.id, answer=None)
    assert result.step_name == "create_blue_green"

    world.engine.resume(op.id, "abort")
    result, _ = run(world, op.id, answer=None)

    assert world.store.load(op.id).state is OperationState.FAILED
    assert applied(world, "CreateBlueGreenDeployment") == []
    assert [c["DBClusterParameterGroupName"] for c in applied(world, "DeleteDBClusterParameterGroup")] == [
        parameter_group_copy_name(CLUSTER, TARGET, "cluster")
    ]
    assert_only_the_original_cluster(world)


# -- crashes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        "CreateDBClusterParameterGroup",
        "CreateBlueGreenDeployment",
        "SwitchoverBlueGreenDeployment",
        "DeleteBlueGreenDeployment",
        "DeleteDBCluster",
    ],
)
def test_a_crash_right_after_a_call_converges_without_repeating_it(
    world: World, upgradable: list[str], operation: str
) -> None:
    world.sim.faults.crash_after(operation)
    op = create(world)
    result, _ = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED
    assert any(c.crashed for c in world.sim.calls), "the crash was not injected"
    assert len(applied(world, operation)) == 1
    assert_upgraded(world, MEMBERS, proxy=False)


def test_a_lost_create_answer_is_adopted_not_repeated(world: World, upgradable: list[str]) -> None:
    world.sim.faults.lose_response("CreateBlueGreenDeployment")
    op = create(world, pause_before_switchover=False, pause_before_cleanup=False)
    result, _ = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED
    assert len(applied(world, "CreateBlueGreenDeployment")) == 1
    assert "blue_green_adopted" in [e.type for e in world.store.events(op.id)]


# -- the simulator is at least as hard as AWS ----------------------------------------------------------


def test_simulated_blue_green_lags_refuses_and_renames(world: World, with_proxy: list[str]) -> None:
    gateway = world.gateway()
    arn = str(gateway.describe_cluster(CLUSTER).raw["DBClusterArn"])
    created = gateway.create_blue_green_deployment(
        name="probe",
        source_arn=arn,
        target_engine_version=TARGET,
        cluster_parameter_group=None,
        instance_parameter_group=None,
        tags={},
    )
    identifier = created["BlueGreenDeploymentIdentifier"]
    green = created["Target"].rsplit(":", 1)[-1]
    assert created["Status"] == "PROVISIONING"
    assert world.sim.cluster_view(green).status == "creating"
    person = world.rds_client()
    with pytest.raises(ClientError) as refused:  # a proxy target must be registered before the deployment
        person.deregister_db_proxy_targets(DBProxyName=PROXY, TargetGroupName="default", DBClusterIdentifiers=[CLUSTER])
        person.register_db_proxy_targets(DBProxyName=PROXY, TargetGroupName="default", DBClusterIdentifiers=[CLUSTER])
    assert refused.value.response["Error"]["Code"] == "InvalidDBClusterStateFault"
    world.clock.advance(35 * 60)
    assert gateway.find_blue_green_deployment(identifier)["Status"] == "PROVISIONING"  # type: ignore[index]
    while gateway.find_blue_green_deployment(identifier)["Status"] == "PROVISIONING":  # type: ignore[index]
        world.clock.advance(10)
    assert gateway.find_blue_green_deployment(identifier)["Status"] == "AVAILABLE"  # type: ignore[index]
    assert world.sim.cluster_view(green).engine_version == TARGET

    # AVAILABLE, but green's members are not ready yet: refused, nothing started
    with pytest.raises(PersonAwsError) as not_ready:
        gateway.switchover_blue_green_deployment(identifier, 300)
    assert not_ready.value.code == "InvalidBlueGreenDeploymentStateFault"
    assert gateway.find_blue_green_deployment(identifier)["Status"] == "AVAILABLE"  # type: ignore[index]
    world.clock.advance(5 * 60)
    gateway.switchover_blue_green_deployment(identifier, 300)
    assert gateway.find_blue_green_deployment(identifier)["Status"] == "AVAILABLE"  # type: ignore[index]  # lag
    with pytest.raises(PersonAwsError) as again:
        gateway.switchover_blue_green_deployment(identifier, 300)
    assert again.value.code == "InvalidBlueGreenDeploymentStateFault"
    world.clock.advance(10)
    assert gateway.find_blue_green_deployment(identifier)["Status"] == "SWITCHOVER_IN_PROGRESS"  # type: ignore[index]
    world.clock.advance(60)
    done = gateway.find_blue_green_deployment(identifier)
    assert done is not None and done["Status"] == "SWITCHOVER_COMPLETED"
    assert done["Source"].endswith(f":cluster:{OLD}") and done["Target"].endswith(f":cluster:{CLUSTER}")
    assert world.sim.cluster_view(CLUSTER).engine_version == TARGET
    assert sorted(world.sim.cluster_view(OLD).members) == [f"{m}-old1" for m in MEMBERS]
    assert world.sim.cluster_view(OLD).engine_version == SOURCE

    for delete_target in (True, False):  # "can't specify" DeleteTarget once SWITCHOVER_COMPLETED, even false
        with pytest.raises(PersonAwsError) as target_after:
            gateway.delete_blue_green_deployment(identifier, delete_target=delete_target)
        assert target_after.value.code == "InvalidParameterCombination"
    with pytest.raises(BusyAwsError) as in_deployment:
        gateway.delete_cluster(OLD, "snap")
    assert "blue/green" in in_deployment.value.aws_message
    gateway.delete_switched_over_blue_green_deployment(identifier)
    world.clock.advance(120)
    with pytest.raises(BusyAwsError) as with_instances:
        gateway.delete_cluster(OLD, "snap")
    assert "still contains DB instances" in with_instances.value.aws_message


def test_demo_runs_the_upgrade_and_says_it_answers_the_pauses() -> None:
    result = CliRunner().invoke(main, ["demo", "--type", "engine_upgrade", "--readers", "1", "--speed", "1e9"])
    assert result.exit_code == 0, result.output
    assert "$ rds-maint run --type engine_upgrade --cluster demo-aurora-pg --param target_engine_version=16.4" in (
        result.output
    )
    for step in ("switchover", "cleanup"):
        assert f"demo: answering the pause before '{step}' with continue" in result.output
    assert "completed in" in result.output
    assert "(aurora-postgresql 16.4) is available" in result.output.split("After:")[1]


def test_a_minor_upgrade_keeps_the_parameter_groups(world: World, upgradable: list[str]) -> None:
    before = world.gateway().describe_cluster(CLUSTER)
    op = create(world, target_engine_version="15.7", pause_before_switchover=False, pause_before_cleanup=False)
    assert "Minor upgrade 15.4 -> 15.7" in op.context["notes"][0]
    result, _ = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED
    after = world.gateway().describe_cluster(CLUSTER)
    assert after.engine_version == "15.7"
    assert after.parameter_group == before.parameter_group
    assert {m.instance.parameter_group for m in after.members} == {m.instance.parameter_group for m in before.members}
    assert applied(world, "CreateDBClusterParameterGroup") == applied(world, "CreateDBParameterGroup") == []
