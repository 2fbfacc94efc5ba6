"""The four operations on a simulated RDS Multi-AZ DB cluster: final AWS state asserted, crashes, abort, rollback."""

from __future__ import annotations

from typing import Any

import pytest

from rds_maint.errors import BadInput
from rds_maint.model import Operation, OperationState, Outcome
from rds_maint.planning.estimate import estimate_steps
from rds_maint.plans import rollback_limits
from rds_sim import SimulatedCrash
from tests.helpers.world import CLUSTER, REGION, World

W, R2, R3 = (f"{CLUSTER}-instance-{n}" for n in (1, 2, 3))
MEMBERS = {W, R2, R3}


@pytest.fixture
def maz(world: World) -> list[str]:
    return world.sim.seed_multi_az_cluster(CLUSTER)  # postgres 16.4, db.m6gd.large, io1, 100 GiB, 1000 IOPS


def create(world: World, op_type: str, params: dict[str, Any], **extra: Any) -> Operation:
    return world.engine.create({"type": op_type, "cluster_id": CLUSTER, "region": REGION, "params": params, **extra})


def described(world: World) -> dict[str, Any]:
    return world.sim.multi_az_cluster(CLUSTER)


def classes(world: World) -> dict[str, str]:
    return {k: m.instance_class for k, m in world.sim.cluster_view(CLUSTER).members.items()}


def modify_calls(world: World) -> list[dict[str, Any]]:
    return [c.params for c in world.sim.applied_calls("ModifyDBCluster")]


STORAGE = {"target_storage_type": "io2", "iops": 3000, "allocated_storage": 200}
CLASS = {"target_instance_type": "db.r6gd.large"}


# -- the four operations --------------------------------------------------------------------------------


def test_storage_change_is_one_modify_db_cluster_and_ends_with_the_new_storage(world: World, maz: list[str]) -> None:
    op = create(world, "storage_type_change", STORAGE)
    assert [s.name for s in op.steps] == ["modify_storage", "verify"]
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    final = described(world)
    assert (final["StorageType"], final["Iops"], final["AllocatedStorage"], final["Status"]) == (
        "io2",
        3000,
        200,
        "available",
    )
    assert "PendingModifiedValues" not in final
    assert modify_calls(world) == [
        {
            "DBClusterIdentifier": CLUSTER,
            "ApplyImmediately": True,
            "StorageType": "io2",
            "Iops": 3000,
            "AllocatedStorage": 200,
        }
    ]
    assert world.sim.cluster_view(CLUSTER).writer == W  # no failover
    assert world.store.load(op.id).state is OperationState.COMPLETED


def test_class_change_changes_every_member_and_reports_the_failover(world: World, maz: list[str]) -> None:
    op = create(world, "instance_type_change", CLASS)
    assert [s.name for s in op.steps] == ["modify_class", "verify"]
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert classes(world) == dict.fromkeys(MEMBERS, "db.r6gd.large")
    assert described(world)["DBClusterInstanceClass"] == "db.r6gd.large"
    assert world.sim.cluster_view(CLUSTER).writer == R2  # AWS failed over to a changed reader
    assert [c["DBClusterInstanceClass"] for c in modify_calls(world)] == ["db.r6gd.large"]
    assert world.sim.applied_calls("ModifyDBInstance") == []  # members are never modified one by one
    stored = world.store.load(op.id)
    assert stored.steps[1].result["writer"] == R2


def test_rolling_reboot_reboots_readers_then_fails_over_then_reboots_the_old_writer(
    world: World, maz: list[str]
) -> None:
    op = create(world, "instance_cycle", {})
    assert [s.name for s in op.steps] == [f"reboot:{R2}", f"reboot:{R3}", "failover", f"reboot:{W}", "verify"]
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    rebooted = [c.params["DBInstanceIdentifier"] for c in world.sim.applied_calls("RebootDBInstance")]
    assert rebooted == [R2, R3, W]
    [failover] = world.sim.applied_calls("FailoverDBCluster")
    assert failover.params["TargetDBInstanceIdentifier"] == R2
    view = world.sim.cluster_view(CLUSTER)
    assert view.writer == R2 and view.status == "available"
    assert {m.status for m in view.members.values()} == {"available"}
    assert world.sim.applied_calls("RebootDBCluster") == []


def test_whole_cluster_reboot_is_one_reboot_db_cluster(world: World, maz: list[str]) -> None:
    op = create(world, "instance_cycle", {"reboot_whole_cluster": True})
    assert [s.name for s in op.steps] == ["reboot_cluster", "verify"]
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert len(world.sim.applied_calls("RebootDBCluster")) == 1
    assert world.sim.applied_calls("RebootDBInstance") == []
    assert [c.kind for c in world.sim.multi_az_changes()] == ["reboot_cluster"]
    assert world.sim.cluster_view(CLUSTER).writer == W


def test_only_pending_reboot_reboots_only_the_members_that_wait_for_one(world: World, maz: list[str]) -> None:
    world.sim.set_parameter_apply_status(R3, "pending-reboot")
    op = create(world, "instance_cycle", {"only_pending_reboot": True})
    assert [s.name for s in op.steps] == [f"reboot:{R3}", "verify"]
    assert world.run(op.id).outcome is Outcome.COMPLETED
    assert [c.params["DBInstanceIdentifier"] for c in world.sim.applied_calls("RebootDBInstance")] == [R3]
    assert world.sim.cluster_view(CLUSTER).members[R3].parameter_apply_status == "in-sync"


def test_in_place_minor_upgrade(world: World, maz: list[str]) -> None:
    op = create(world, "engine_upgrade", {"target_engine_version": "16.6", "method": "in_place"})
    assert [s.name for s in op.steps] == ["upgrade_engine", "verify"]
    assert op.steps[0].action == "upgrade_multi_az_engine"
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert described(world)["EngineVersion"] == "16.6"
    [call] = modify_calls(world)
    assert call["EngineVersion"] == "16.6" and "AllowMajorVersionUpgrade" not in call
    assert world.sim.successful_calls("CreateBlueGreenDeployment") == []


def test_in_place_major_upgrade_of_postgres_allows_the_major_and_states_the_downtime(
    world: World, maz: list[str]
) -> None:
    op = create(world, "engine_upgrade", {"target_engine_version": "17.2", "method": "in_place"})
    assert op.steps[0].action == "upgrade_multi_az_engine_major"
    assert world.run(op.id).outcome is Outcome.COMPLETED
    assert described(world)["EngineVersion"] == "17.2"
    assert modify_calls(world)[0]["AllowMajorVersionUpgrade"] is True


# -- bad input: refused before anything is written -------------------------------------------------------


@pytest.mark.parametrize(
    ("op_type", "params", "needles"),
    [
        (
            "storage_type_change",
            {"target_storage_type": "gp2"},
            ["not a storage type of Multi-AZ DB clusters", "io1, io2, gp3"],
        ),
        ("storage_type_change", {"target_storage_type": "io1"}, ["nothing to change"]),
        ("storage_type_change", {"target_storage_type": "io2", "allocated_storage": 50}, ["storage only grows"]),
        ("storage_type_change", {"target_storage_type": "io2", "allocated_storage": 105}, ["at least 110 GiB"]),
        (
            "storage_type_change",
            {"target_storage_type": "io2", "iops": 9000},
            ["out of range for 100 GiB", "50 to 5000"],
        ),
        ("storage_type_change", {"target_storage_type": "io2", "storage_throughput": 500}, ["storage_throughput"]),
        (
            "storage_type_change",
            {"target_storage_type": "io2", "exclude_instances": [R2]},
            ["exclude_instances does not apply"],
        ),
        (
            "instance_type_change",
            {"target_instance_type": "db.r6g.large"},
            ["not offered for Multi-AZ DB clusters", "SupportsClusters"],
        ),
        ("instance_type_change", {"target_instance_type": "db.m6gd.large"}, ["nothing to change"]),
        ("instance_type_change", {**CLASS, "skip_temp_instance": True}, ["skip_temp_instance does not apply"]),
        (
            "instance_type_change",
            {**CLASS, "allow_downtime": True},
            ["allow_downtime applies to Single-AZ DB instances"],
        ),
        ("instance_cycle", {"allow_downtime": True}, ["reboot_whole_cluster: true"]),
        ("instance_cycle", {"only_pending_reboot": True}, ["nothing to reboot"]),
        (
            "engine_upgrade",
            {"target_engine_version": "16.6"},
            ["Blue/Green deployments do not support Multi-AZ DB clusters", "method: in_place"],
        ),
        (
            "engine_upgrade",
            {"target_engine_version": "15.8", "method": "in_place"},
            ["not an upgrade target", "16.6, 17.2"],
        ),
        (
            "engine_upgrade",
            {"target_engine_version": "16.6", "method": "in_place", "target_db_instance_class": "db.r6gd.large"},
            ["target_db_instance_class do not apply"],
        ),
    ],
)
def test_bad_input_is_refused_with_nothing_written(
    world: World, maz: list[str], op_type: str, params: dict[str, Any], needles: list[str]
) -> None:
    with pytest.raises(BadInput) as refused:
        create(world, op_type, params)
    for needle in needles:
        assert needle in str(refused.value), str(refused.value)
    assert world.store.list_operations() == []
    assert world.mutating_calls() == []


# -- crashes right after each mutating call ------------------------------------------------------------


@pytest.mark.parametrize(
    ("op_type", "params"),
    [
        ("storage_type_change", STORAGE),
        ("instance_type_change", CLASS),
        ("engine_upgrade", {"target_engine_version": "16.6", "method": "in_place"}),
    ],
)
def test_crash_after_modify_db_cluster_converges_without_sending_it_again(
    world: World, maz: list[str], op_type: str, params: dict[str, Any]
) -> None:
    op = create(world, op_type, params)
    world.sim.faults.crash_after("ModifyDBCluster", times=1)
    with pytest.raises(SimulatedCrash):
        world.run(op.id)
    result = world.run(op.id, engine=world.new_engine())
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert len(modify_calls(world)) == 1
    # A restart within FRESH_SECONDS of the mark may send it again into AWS's quiet moment, where AWS refuses
    # it (the cluster is changing): never a second change (the same window as actions.reboot).
    assert len(world.sim.successful_calls("ModifyDBCluster")) == 1
    assert [c.kind for c in world.sim.multi_az_changes()] == ["modify"]


@pytest.mark.parametrize("fault", ["crash_after", "lose_response"])
def test_crash_or_lost_answer_after_reboot_db_cluster_reboots_once(world: World, maz: list[str], fault: str) -> None:
    op = create(world, "instance_cycle", {"reboot_whole_cluster": True})
    getattr(world.sim.faults, fault)("RebootDBCluster", times=1)
    if fault == "crash_after":
        with pytest.raises(SimulatedCrash):
            world.run(op.id)
        result = world.run(op.id, engine=world.new_engine())
    else:
        result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert len(world.sim.applied_calls("RebootDBCluster")) == 1
    assert [c.kind for c in world.sim.multi_az_changes()] == ["reboot_cluster"]


def test_crash_after_a_member_reboot_reboots_it_once(world: World, maz: list[str]) -> None:
    op = create(world, "instance_cycle", {})
    world.sim.faults.crash_after("RebootDBInstance", times=1)
    with pytest.raises(SimulatedCrash):
        world.run(op.id)
    result = world.run(op.id, engine=world.new_engine())
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    rebooted = [c.params["DBInstanceIdentifier"] for c in world.sim.applied_calls("RebootDBInstance")]
    assert rebooted == [R2, R3, W]


def test_crash_after_the_failover_of_a_rolling_reboot_fails_over_once(world: World, maz: list[str]) -> None:
    op = create(world, "instance_cycle", {})
    world.sim.faults.crash_after("FailoverDBCluster", times=1)
    with pytest.raises(SimulatedCrash):
        world.run(op.id)
    result = world.run(op.id, engine=world.new_engine())
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert len(world.sim.successful_calls("FailoverDBCluster")) == 1
    assert world.sim.cluster_view(CLUSTER).writer == R2


# -- what the plan says it interrupts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op_type", "params", "interruptions"),
    [
        ("storage_type_change", STORAGE, []),
        ("instance_type_change", CLASS, ["multi_az_failover"]),
        ("engine_upgrade", {"target_engine_version": "16.6", "method": "in_place"}, ["multi_az_failover"]),
        ("engine_upgrade", {"target_engine_version": "17.2", "method": "in_place"}, ["downtime"]),
        ("instance_cycle", {}, ["failover"]),
        ("instance_cycle", {"reboot_whole_cluster": True}, ["downtime"]),
    ],
)
def test_the_estimate_states_each_plans_interruption(
    world: World, maz: list[str], op_type: str, params: dict[str, Any], interruptions: list[str]
) -> None:
    op = create(world, op_type, params)
    estimate = estimate_steps(op.steps, writer_id=W)
    assert [i.kind for i in estimate.interruptions] == interruptions
    assert estimate.total_seconds > 0


def test_rollback_limits_of_a_storage_change_say_it_cannot_be_undone(world: World, maz: list[str]) -> None:
    storage = create(world, "storage_type_change", STORAGE)
    assert "storage never shrinks" in str(rollback_limits(storage))
    assert world.store.load(storage.id).target_type == "multi_az_cluster"


# -- abort and rollback ----------------------------------------------------------------------------------


def test_rollback_of_a_class_change_changes_the_class_back(world: World, maz: list[str]) -> None:
    op = create(world, "instance_type_change", CLASS, pause_before_steps=["verify"])
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    assert classes(world) == dict.fromkeys(MEMBERS, "db.r6gd.large")
    world.engine.resume(op.id, "rollback", "too expensive", confirm=True)
    assert world.run(op.id).outcome is Outcome.FAILED
    assert world.store.load(op.id).state is OperationState.ROLLED_BACK
    assert classes(world) == dict.fromkeys(MEMBERS, "db.m6gd.large")
    assert [c["DBClusterInstanceClass"] for c in modify_calls(world)] == ["db.r6gd.large", "db.m6gd.large"]


def test_rollback_requested_in_the_quiet_moment_waits_for_the_change_then_undoes_it(
    world: World, maz: list[str]
) -> None:
    op = create(world, "instance_type_change", CLASS)
    world.engine.start(op.id)
    while not world.sim.applied_calls("ModifyDBCluster"):
        world.engine.advance(op.id)
    assert described(world)["Status"] == "available"  # AWS does not show the change yet
    world.engine.resume(op.id, "rollback", confirm=True)
    assert world.run(op.id).outcome is Outcome.FAILED
    assert world.store.load(op.id).state is OperationState.ROLLED_BACK
    assert classes(world) == dict.fromkeys(MEMBERS, "db.m6gd.large")
    assert [c["DBClusterInstanceClass"] for c in modify_calls(world)] == ["db.r6gd.large", "db.m6gd.large"]


@pytest.mark.parametrize(
    ("op_type", "params", "limit"),
    [
        ("storage_type_change", STORAGE, "storage never shrinks"),
        ("engine_upgrade", {"target_engine_version": "16.6", "method": "in_place"}, "does not downgrade"),
        ("instance_cycle", {}, "Reboots cannot be undone"),
    ],
)
def test_rollback_that_cannot_undo_says_so_and_changes_nothing(
    world: World, maz: list[str], op_type: str, params: dict[str, Any], limit: str
) -> None:
    op = create(world, op_type, params, pause_before_steps=["verify"])
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    before = len(world.mutating_calls())
    with pytest.raises(BadInput, match=f"needs confirming: .*{limit}"):
        world.engine.resume(op.id, "rollback")  # what it cannot undo is said before it is accepted
    world.engine.resume(op.id, "rollback", confirm=True)
    assert world.run(op.id).outcome is Outcome.FAILED
    stored = world.store.load(op.id)
    assert stored.state is OperationState.ROLLED_BACK
    [note] = [s for s in stored.steps if s.name == "rollback_limits"]
    assert limit in note.parameters["message"]
    assert [
        c for c in world.mutating_calls()[before:] if c not in ("AddTagsToResource", "RemoveTagsFromResource")
    ] == []


@pytest.mark.parametrize(
    ("op_type", "params", "first"),
    [
        ("storage_type_change", STORAGE, "modify_storage"),
        ("instance_type_change", CLASS, "modify_class"),
        ("instance_cycle", {"reboot_whole_cluster": True}, "reboot_cluster"),
        ("engine_upgrade", {"target_engine_version": "16.6", "method": "in_place"}, "upgrade_engine"),
    ],
)
def test_abort_before_the_change_leaves_the_cluster_as_it_was(
    world: World, maz: list[str], op_type: str, params: dict[str, Any], first: str
) -> None:
    op = create(world, op_type, params, pause_before_steps=[first])
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    world.engine.resume(op.id, "abort")
    assert world.run(op.id).outcome is Outcome.FAILED
    final = described(world)
    assert (final["StorageType"], final["DBClusterInstanceClass"], final["EngineVersion"]) == (
        "io1",
        "db.m6gd.large",
        "16.4",
    )
    assert world.mutating_calls() == ["AddTagsToResource", "RemoveTagsFromResource"]  # only the cluster's mark


def test_plan_on_the_command_line_states_the_failover_and_changes_nothing(world: World, maz: list[str]) -> None:
    plan = world.cli(["plan", "--store", world.store_url, "--type", "instance_type_change", "--cluster", CLUSTER,
               "--region", REGION, "--param", "target_instance_type=db.r6gd.large"],
    )  # fmt: skip
    assert plan.exit_code == 0, plan.output
    assert "modify_class" in plan.output and "1 Multi-AZ failover of about" in plan.output
    whole = world.cli(["plan", "--store", world.store_url, "--type", "instance_cycle", "--cluster", CLUSTER,
               "--region", REGION, "--param", "reboot_whole_cluster=true"],
    )  # fmt: skip
    assert whole.exit_code == 0, whole.output
    assert "1 downtime (the database is unavailable) of about" in whole.output
    assert world.mutating_calls() == [] and world.store.list_operations() == []


def test_a_second_storage_change_is_refused_while_the_members_optimize_their_storage(
    world: World, maz: list[str]
) -> None:
    assert world.run(create(world, "storage_type_change", STORAGE).id).outcome is Outcome.COMPLETED
    assert {m.status for m in world.sim.cluster_view(CLUSTER).members.values()} == {"storage-optimization"}
    calls = len(world.mutating_calls())
    with pytest.raises(BadInput) as refused:
        create(world, "storage_type_change", {"target_storage_type": "gp3", "iops": 3000})
    assert "still optimizing its storage" in str(refused.value)
    assert len(world.mutating_calls()) == calls
    # a class change is not a storage change: it is planned
    assert create(world, "instance_type_change", CLASS).steps[0].name == "modify_class"
