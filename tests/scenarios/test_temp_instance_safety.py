"""Temp-instance operations on the simulated Aurora, as AWS behaves (issue 9, items 7-11).

Each test asserts what a person would find in the account afterwards: who writes, which
instances exist, and with which settings.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from rds_maint.errors import BadInput
from rds_maint.model import OperationState, Outcome
from rds_maint.names import temp_instance_id
from tests.helpers.world import CLUSTER, World

TARGET = "db.r6g.xlarge"
OLD = "db.r6g.large"
WRITER = f"{CLUSTER}-instance-1"
READER_2 = f"{CLUSTER}-instance-2"
READER_3 = f"{CLUSTER}-instance-3"
MONITORING_ROLE = "arn:aws:iam::123456789012:role/rds-monitoring-role"
PI_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
WRITER_SETTINGS: dict[str, Any] = {
    "PubliclyAccessible": True,
    "CACertificateIdentifier": "rds-ca-ecc384-g1",
    "MonitoringInterval": 15,
    "MonitoringRoleArn": MONITORING_ROLE,
    "EnablePerformanceInsights": True,
    "PerformanceInsightsKMSKeyId": PI_KEY,
    "PerformanceInsightsRetentionPeriod": 731,
}
SHOWN = {  # how DescribeDBInstances shows each setting
    "PubliclyAccessible": True,
    "CACertificateIdentifier": "rds-ca-ecc384-g1",
    "MonitoringInterval": 15,
    "MonitoringRoleArn": MONITORING_ROLE,
    "PerformanceInsightsEnabled": True,
    "PerformanceInsightsKMSKeyId": PI_KEY,
    "PerformanceInsightsRetentionPeriod": 731,
}


def classes(world: World) -> dict[str, str]:
    return {i: m.instance_class for i, m in world.sim.cluster_view(CLUSTER).members.items()}


def settings_of(world: World, instance_id: str) -> dict[str, Any]:
    shown = world.sim.instance_description(instance_id)
    return {key: shown.get(key) for key in SHOWN}


def drive_to_pause(world: World, op_id: str) -> Any:
    result = world.run(op_id)
    assert result.outcome is Outcome.INTERVENTION, result
    return result


# -- item 7: the temp writer has the writer's network and monitoring settings ---------------------


def test_simulator_gives_an_instance_created_without_settings_aws_defaults_not_the_writers(
    world: World, cluster_1w2r: list[str]
) -> None:
    world.sim.configure_instance(WRITER, **WRITER_SETTINGS)
    client = world.gateway().client
    client.create_db_instance(
        DBInstanceIdentifier="orders-prod-plain",
        DBClusterIdentifier=CLUSTER,
        Engine="aurora-postgresql",
        DBInstanceClass=OLD,
    )
    assert settings_of(world, "orders-prod-plain") == {
        "PubliclyAccessible": False,
        "CACertificateIdentifier": "rds-ca-rsa2048-g1",
        "MonitoringInterval": 0,
        "MonitoringRoleArn": None,
        "PerformanceInsightsEnabled": False,
        "PerformanceInsightsKMSKeyId": None,
        "PerformanceInsightsRetentionPeriod": None,
    }


@pytest.mark.parametrize("operation", ["instance_type_change", "instance_cycle"])
def test_temp_writer_has_the_writers_network_access_ca_and_monitoring(
    world: World, cluster_1w2r: list[str], operation: str
) -> None:
    world.sim.configure_instance(WRITER, **WRITER_SETTINGS)
    assert settings_of(world, WRITER) == SHOWN
    params = {"target_instance_type": TARGET} if operation == "instance_type_change" else {}
    pause_at = f"modify_class:{WRITER}" if operation == "instance_type_change" else f"reboot:{WRITER}"
    op = world.create(params, type=operation, pause_before_steps=[pause_at])
    drive_to_pause(world, op.id)
    temp = temp_instance_id(CLUSTER, op.id)
    assert world.sim.cluster_view(CLUSTER).writer == temp  # clients now reach the temp writer
    assert settings_of(world, temp) == SHOWN
    world.engine.resume(op.id, "continue")
    assert world.run(op.id).outcome is Outcome.COMPLETED
    assert world.sim.cluster_view(CLUSTER).writer == WRITER
    assert not world.sim.instance_exists(temp)


# -- item 8: a temp instance that ends `failed` is deleted by abort, rollback and clean-up -------------


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        ("failed", "abort"),
        ("incompatible-parameters", "rollback"),
        ("inaccessible-encryption-credentials", "mark_complete"),
    ],
)
def test_a_temp_instance_that_ends_failed_is_deleted_by_abort_and_rollback(
    world: World, cluster_1w2r: list[str], answer: str, status: str
) -> None:
    """Each terminal status once and each answer once. Merged: the other 6 of the 3 x 3 pairs; a status only
    decides that the creation ended (and is named in the pause), the answer what happens next, independently:
    the 9 pairs and these 3 reach the same branches (arc coverage compared)."""
    op = world.create({"target_instance_type": TARGET})
    temp = temp_instance_id(CLUSTER, op.id)
    world.sim.faults.fail_creation(temp, status=status)
    paused = drive_to_pause(world, op.id)
    assert paused.step_name == "create_temp_instance"
    assert paused.pause_reason is not None and f"ended '{status}'" in paused.pause_reason
    assert world.sim.cluster_view(CLUSTER).members[temp].status == status

    world.engine.resume(op.id, answer, "temp instance failed")
    result = world.run(op.id)
    expected = {
        "abort": OperationState.FAILED,
        "rollback": OperationState.ROLLED_BACK,
        "mark_complete": OperationState.COMPLETED,
    }[answer]
    assert result.operation_state == expected.value, result.pause_reason
    assert world.store.load(op.id).state is expected
    assert not world.sim.instance_exists(temp)
    view = world.sim.cluster_view(CLUSTER)
    assert view.writer == WRITER and set(view.members) == {WRITER, READER_2, READER_3}
    assert classes(world) == {WRITER: OLD, READER_2: OLD, READER_3: OLD}
    assert world.sim.successful_calls("FailoverDBCluster") == []
    assert [c.params["DBInstanceIdentifier"] for c in world.sim.successful_calls("DeleteDBInstance")] == [temp]


def test_simulated_failed_instance_refuses_changes_and_failovers_but_can_be_deleted(
    world: World, cluster_1w2r: list[str]
) -> None:
    world.sim.faults.fail_creation("orders-prod-broken", status="incompatible-network")
    client = world.gateway().client
    client.create_db_instance(
        DBInstanceIdentifier="orders-prod-broken",
        DBClusterIdentifier=CLUSTER,
        Engine="aurora-postgresql",
        DBInstanceClass=OLD,
    )
    assert world.sim.instance_description("orders-prod-broken")["DBInstanceStatus"] == "creating"
    world.clock.advance(3 * 3600)
    assert world.sim.instance_description("orders-prod-broken")["DBInstanceStatus"] == "incompatible-network"
    with pytest.raises(client.exceptions.InvalidDBInstanceStateFault):
        client.modify_db_instance(
            DBInstanceIdentifier="orders-prod-broken", DBInstanceClass=TARGET, ApplyImmediately=True
        )
    with pytest.raises(client.exceptions.ClientError):
        client.failover_db_cluster(DBClusterIdentifier=CLUSTER, TargetDBInstanceIdentifier="orders-prod-broken")
    client.delete_db_instance(DBInstanceIdentifier="orders-prod-broken", SkipFinalSnapshot=True)
    world.clock.advance(3600)
    assert not world.sim.instance_exists("orders-prod-broken")


# -- item 9: mark_complete never ends with the temp instance as writer or in the cluster -------------

TYPE_CHANGE_STEPS = [
    "check_cluster",
    "create_temp_instance",
    "failover_to_temp",
    f"modify_class:{WRITER}",
    f"modify_class:{READER_2}",
    f"modify_class:{READER_3}",
    "failback",
    "delete_temp_instance",
    "verify",
]
CYCLE_STEPS = [
    "check_cluster",
    "create_temp_instance",
    "failover_to_temp",
    f"reboot:{WRITER}",
    f"reboot:{READER_2}",
    f"reboot:{READER_3}",
    "failback",
    "delete_temp_instance",
    "restore_promotion_tiers",
    "verify",
]


def assert_writer_back_and_no_temp(world: World, op_id: str) -> None:
    view = world.sim.cluster_view(CLUSTER)
    temp = temp_instance_id(CLUSTER, op_id)
    assert view.writer == WRITER
    assert temp not in view.members
    assert not world.sim.instance_exists(temp)


# One pause per kind of step: the steps on WRITER and READER_3 are the same kind as READER_2's (the temp
# instance holds the writer role through all three), so they were merged into it.
MERGED = (f"modify_class:{WRITER}", f"modify_class:{READER_3}", f"reboot:{WRITER}", f"reboot:{READER_3}")


@pytest.mark.parametrize(
    ("operation", "step"),
    [("instance_type_change", s) for s in TYPE_CHANGE_STEPS if s not in MERGED]
    + [("instance_cycle", s) for s in CYCLE_STEPS if s not in MERGED],
)
def test_mark_complete_at_each_pause_leaves_the_original_writer_and_no_temp_instance(
    world: World, cluster_1w2r: list[str], operation: str, step: str
) -> None:
    """mark_complete at a pause before each kind of step. Merged: the modify_class and reboot steps of the writer
    and of the last reader into the middle reader's (19 -> 15 cases): each finds the temp instance the writer and
    makes the same final clean-up; the same branches are reached (arc coverage compared)."""
    params = {"target_instance_type": TARGET} if operation == "instance_type_change" else {}
    op = world.create(params, type=operation, pause_before_steps=[step])
    assert [s.name for s in op.steps] == (TYPE_CHANGE_STEPS if operation == "instance_type_change" else CYCLE_STEPS)
    paused = drive_to_pause(world, op.id)
    assert paused.step_name == step
    world.engine.resume(op.id, "mark_complete", "finished by hand")
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert world.store.load(op.id).state is OperationState.COMPLETED
    assert_writer_back_and_no_temp(world, op.id)
    cleaned = "final_cleanup" in [e.type for e in world.store.events(op.id)]
    temp_existed = TYPE_CHANGE_STEPS.index(step) >= 2 if step in TYPE_CHANGE_STEPS else False
    temp_existed = temp_existed or (step in CYCLE_STEPS and 2 <= CYCLE_STEPS.index(step) <= 7)
    assert cleaned is (temp_existed and step not in ("verify", "restore_promotion_tiers"))


def test_mark_complete_that_skips_the_clean_up_is_refused_with_what_remains(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = world.create({"target_instance_type": TARGET}, pause_before_steps=[f"modify_class:{READER_2}"])
    drive_to_pause(world, op.id)
    temp = temp_instance_id(CLUSTER, op.id)
    world.sim.faults.stuck(WRITER, status="modifying")  # the failback cannot happen yet
    world.engine.resume(op.id, "mark_complete")
    busy = world.run(op.id)
    assert busy.outcome is Outcome.INTERVENTION and busy.step_name == "final_failback"
    with pytest.raises(Exception, match=f"mark_complete refused.*temp instance {temp} is the writer"):
        world.engine.resume(op.id, "mark_complete")
    assert world.sim.cluster_view(CLUSTER).writer == temp  # nothing was recorded as complete
    assert world.store.load(op.id).state is OperationState.PAUSED
    world.sim.faults.unstick(WRITER)
    world.engine.resume(op.id, "continue")
    assert world.run(op.id).outcome is Outcome.COMPLETED
    assert_writer_back_and_no_temp(world, op.id)


def test_every_final_state_is_checked_an_abort_cut_short_still_deletes_the_temp_instance(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = world.create({"target_instance_type": TARGET}, pause_before_steps=["failover_to_temp"], wait_timeout=600)
    drive_to_pause(world, op.id)
    temp = temp_instance_id(CLUSTER, op.id)
    world.sim.faults.stuck(temp, status="storage-optimization")  # AWS will not delete it for now
    world.engine.resume(op.id, "abort")
    paused = drive_to_pause(world, op.id)
    assert paused.step_name == "abort_delete_temp_instance"
    world.engine.resume(op.id, "mark_complete", "gave up")  # would end `failed` with the temp instance left
    again = drive_to_pause(world, op.id)
    assert again.step_name == "final_delete_temp_instance"
    assert world.store.load(op.id).state is OperationState.PAUSED
    with pytest.raises(BadInput, match=f"temp instance {temp} is still in cluster {CLUSTER}"):
        world.engine.resume(op.id, "mark_complete")
    world.sim.faults.unstick(temp)
    world.engine.resume(op.id, "continue")
    result = world.run(op.id)
    assert result.outcome is Outcome.FAILED, result.pause_reason
    assert world.store.load(op.id).state is OperationState.FAILED
    assert_writer_back_and_no_temp(world, op.id)
    assert classes(world) == {WRITER: OLD, READER_2: OLD, READER_3: OLD}


# -- item 10: rollback after the failback needs no manual failover -----------------------------------


@pytest.mark.parametrize(("readers", "skip_temp_instance"), [(2, False), (0, False), (2, True)])
def test_rollback_after_the_failback_puts_everything_back_without_a_person(
    world: World, readers: int, skip_temp_instance: bool
) -> None:
    world.sim.seed_cluster(
        CLUSTER, engine="aurora-postgresql", engine_version="15.4", instance_class=OLD, readers=readers
    )
    pause_at = "verify" if skip_temp_instance else "delete_temp_instance"
    op = world.create(
        {"target_instance_type": TARGET, "skip_temp_instance": skip_temp_instance}, pause_before_steps=[pause_at]
    )
    drive_to_pause(world, op.id)
    view = world.sim.cluster_view(CLUSTER)
    assert view.writer == WRITER and view.members[WRITER].instance_class == TARGET  # after the failback

    world.engine.resume(op.id, "rollback", "the new class is slower")
    result = world.run(op.id)
    assert result.outcome is Outcome.FAILED, result.pause_reason
    stored = world.store.load(op.id)
    assert stored.state is OperationState.ROLLED_BACK
    types = [e.type for e in world.store.events(op.id)]
    assert "operation_paused" not in types[types.index("operation_rollback") :]  # nobody was needed
    assert_writer_back_and_no_temp(world, op.id)
    everyone = [WRITER] + [f"{CLUSTER}-instance-{n}" for n in range(2, readers + 2)]
    assert classes(world) == dict.fromkeys(everyone, OLD)
    # the writer changed back only while another instance, already back on the old class, was the writer
    failovers = [c.params["TargetDBInstanceIdentifier"] for c in world.sim.successful_calls("FailoverDBCluster")]
    assert failovers[-1] == WRITER
    holder = failovers[-2]
    if readers:
        assert holder == READER_2
    else:
        assert holder == temp_instance_id(CLUSTER, op.id)


# -- item 11: a vanished reader is skipped; a reader that joins is not left silently -----------------


@pytest.mark.parametrize("operation", ["instance_type_change", "instance_cycle"])
def test_a_planned_reader_deleted_mid_operation_is_skipped_reported_and_not_recreated(
    world: World, cluster_1w2r: list[str], operation: str
) -> None:
    params = {"target_instance_type": TARGET} if operation == "instance_type_change" else {}
    step = f"modify_class:{READER_3}" if operation == "instance_type_change" else f"reboot:{READER_3}"
    op = world.create(params, type=operation, pause_before_steps=[step])
    drive_to_pause(world, op.id)
    world.gateway().client.delete_db_instance(DBInstanceIdentifier=READER_3, SkipFinalSnapshot=True)  # by someone

    world.engine.resume(op.id, "continue")
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    stored = world.store.load(op.id)
    vanished = [e for e in world.store.events(op.id) if e.type == "instance_vanished"]
    assert vanished and all(e.data["instance_id"] == READER_3 for e in vanished)
    verify = stored.steps[-1]
    assert verify.name == "verify" and verify.result["vanished"] == [READER_3]
    assert READER_3 in verify.result["message"]
    assert not world.sim.instance_exists(READER_3)
    created = [c.params["DBInstanceIdentifier"] for c in world.sim.successful_calls("CreateDBInstance")]
    assert created == [temp_instance_id(CLUSTER, op.id)]  # never recreated
    assert_writer_back_and_no_temp(world, op.id)
    if operation == "instance_type_change":
        assert classes(world) == {WRITER: TARGET, READER_2: TARGET}


NEW_READER = f"{CLUSTER}-instance-9"


@pytest.mark.parametrize("answer", ["continue", "mark_complete"])
def test_a_reader_added_mid_operation_pauses_before_verify_and_the_answer_decides(
    world: World, cluster_1w2r: list[str], answer: str
) -> None:
    op = world.create({"target_instance_type": TARGET}, pause_before_steps=[f"modify_class:{READER_2}"])
    drive_to_pause(world, op.id)
    world.gateway().client.create_db_instance(
        DBInstanceIdentifier=NEW_READER, DBClusterIdentifier=CLUSTER, Engine="aurora-postgresql", DBInstanceClass=OLD
    )
    world.engine.resume(op.id, "continue")
    paused = drive_to_pause(world, op.id)
    assert paused.step_name == "verify"
    assert paused.pause_reason is not None
    assert f"{NEW_READER} ({OLD}) joined cluster {CLUSTER} during the operation" in paused.pause_reason
    assert "continue to change it" in paused.pause_reason and "mark_complete to leave it" in paused.pause_reason

    world.engine.resume(op.id, answer)
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert_writer_back_and_no_temp(world, op.id)
    expected = TARGET if answer == "continue" else OLD
    assert classes(world) == {WRITER: TARGET, READER_2: TARGET, READER_3: TARGET, NEW_READER: expected}
    modifies = [c.params["DBInstanceIdentifier"] for c in world.sim.successful_calls("ModifyDBInstance")]
    assert modifies.count(NEW_READER) == (1 if answer == "continue" else 0)
    changes = sorted((t for t in world.sim.transitions if t.kind == "modify"), key=lambda t: t.called_at)
    for earlier, later in itertools.pairwise(changes):
        assert later.called_at >= earlier.ends_at  # one at a time, the new reader included


# -- items 4 and 12: clusters the operations do not handle are refused at create ----------------------

REQUESTS: dict[str, dict[str, Any]] = {
    "instance_type_change": {"target_instance_type": "db.m6gd.xlarge"},
    "storage_type_change": {"target_storage_type": "gp3"},
    "instance_cycle": {},
    "engine_upgrade": {"target_engine_version": "16.6"},
}


def assert_refused_at_create(world: World, operation: str, params: dict[str, Any], *needles: str) -> None:
    with pytest.raises(BadInput) as refused:
        world.create(params, type=operation)
    message = " ".join(str(refused.value).split())
    for needle in needles:
        assert needle in message, message
    assert world.store.list_operations() == []
    assert world.mutating_calls() == []


def test_a_global_database_member_is_refused_for_engine_upgrade_at_create(world: World) -> None:
    world.sim.seed_cluster(CLUSTER, engine="aurora-postgresql", engine_version="15.4", readers=1)
    world.sim.seed_global_cluster("orders-global", CLUSTER)
    assert world.gateway().describe_cluster(CLUSTER).global_cluster_id == "orders-global"
    assert_refused_at_create(
        world,
        "engine_upgrade",
        {"target_engine_version": "16.4"},
        f"cluster '{CLUSTER}' is a member of the Aurora Global Database 'orders-global'",
        "global members in the other regions are part of a Blue/Green deployment",
        "RDS Proxy is not supported with Global Database",
        "aws rds modify-global-cluster --global-cluster-identifier orders-global --engine-version",
        "--allow-major-version-upgrade",
    )
    assert world.sim.successful_calls("CreateBlueGreenDeployment") == []
    # the other operations stay in the region's own cluster and are not refused for it
    op = world.create({"target_instance_type": TARGET})
    assert op.type.value == "instance_type_change"
