"""instance_type_change end to end on the simulated Aurora: the final cluster is what is asserted."""

from __future__ import annotations

import itertools

import pytest

from rds_maint.model import OperationState, Outcome, StepState
from rds_maint.names import temp_instance_id
from rds_sim import SimulatedCrash
from tests.helpers.world import CLUSTER, ON_EVERY_STORE, World

TARGET = "db.r6g.xlarge"
OLD = "db.r6g.large"
WRITER = f"{CLUSTER}-instance-1"
READER_2 = f"{CLUSTER}-instance-2"
READER_3 = f"{CLUSTER}-instance-3"


def classes(world: World) -> dict[str, str]:
    return {i: m.instance_class for i, m in world.sim.cluster_view(CLUSTER).members.items()}


def assert_one_modify_at_a_time(world: World) -> None:
    modifies = sorted((t for t in world.sim.transitions if t.kind == "modify"), key=lambda t: t.called_at)
    for earlier, later in itertools.pairwise(modifies):
        assert later.called_at >= earlier.ends_at, f"{later.resource_id} changed while {earlier.resource_id} was"


@ON_EVERY_STORE
def test_happy_path_changes_every_instance_and_restores_the_writer(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": TARGET})
    result = world.run(op.id)

    assert result.outcome is Outcome.COMPLETED
    view = world.sim.cluster_view(CLUSTER)
    assert view.writer == WRITER
    assert view.status == "available"
    assert classes(world) == {WRITER: TARGET, READER_2: TARGET, READER_3: TARGET}
    temp = temp_instance_id(CLUSTER, op.id)
    assert not world.sim.instance_exists(temp)
    assert [c.params["DBInstanceIdentifier"] for c in world.sim.successful_calls("CreateDBInstance")] == [temp]
    assert len(world.sim.successful_calls("ModifyDBInstance")) == 3
    assert [c.params["TargetDBInstanceIdentifier"] for c in world.sim.successful_calls("FailoverDBCluster")] == [
        temp,
        WRITER,
    ]
    assert_one_modify_at_a_time(world)
    stored = world.store.load(op.id)
    assert stored.state is OperationState.COMPLETED
    assert all(s.state is StepState.COMPLETED for s in stored.steps)
    types = [e.type for e in world.store.events(op.id)]
    assert types[0] == "operation_created" and types[-1] == "operation_completed"
    assert "operation_paused" not in types


def test_temp_instance_copies_the_writer_and_is_tagged(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": TARGET})
    world.engine.start(op.id)
    world.engine.advance(op.id)  # check_cluster
    world.engine.advance(op.id)  # create_temp_instance
    create = world.sim.successful_calls("CreateDBInstance")[0].params
    assert create["DBInstanceClass"] == TARGET
    assert create["PromotionTier"] == 0
    assert {"Key": "rds-maint:operation-id", "Value": op.id} in create["Tags"]
    writer_az = world.sim.cluster_view(CLUSTER).members[WRITER].availability_zone
    assert create["AvailabilityZone"] != writer_az


def test_excluded_instance_is_left_alone(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": TARGET, "exclude_instances": [READER_3]})
    assert world.run(op.id).outcome is Outcome.COMPLETED
    assert classes(world) == {WRITER: TARGET, READER_2: TARGET, READER_3: OLD}
    assert world.sim.cluster_view(CLUSTER).writer == WRITER
    modified = {c.params["DBInstanceIdentifier"] for c in world.sim.successful_calls("ModifyDBInstance")}
    assert READER_3 not in modified


def test_skip_temp_instance_fails_over_to_a_changed_reader(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": TARGET, "skip_temp_instance": True})
    assert world.run(op.id).outcome is Outcome.COMPLETED
    assert world.sim.successful_calls("CreateDBInstance") == []
    assert classes(world) == {WRITER: TARGET, READER_2: TARGET, READER_3: TARGET}
    assert world.sim.cluster_view(CLUSTER).writer == WRITER
    targets = [c.params["TargetDBInstanceIdentifier"] for c in world.sim.successful_calls("FailoverDBCluster")]
    assert targets == [READER_2, WRITER]
    assert_one_modify_at_a_time(world)


def test_autoscaled_and_serverless_readers_are_skipped(world: World) -> None:
    world.sim.seed_cluster(
        CLUSTER,
        engine="aurora-postgresql",
        engine_version="15.4",
        instance_class=OLD,
        readers=1,
        autoscaled_readers=1,
        serverless_readers=1,
    )
    op = world.create({"target_instance_type": TARGET})
    notes = " ".join(op.context["notes"])
    assert "Application Auto Scaling" in notes and "Serverless" in notes
    assert world.run(op.id).outcome is Outcome.COMPLETED
    after = classes(world)
    assert after[WRITER] == TARGET and after[READER_2] == TARGET
    others = {i: c for i, c in after.items() if i not in (WRITER, READER_2)}
    assert sorted(others.values()) == sorted([OLD, "db.serverless"])


def test_throttling_storm_is_absorbed_without_a_pause(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": TARGET})
    world.sim.faults.throttle("*", times=60)
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED
    throttled = [c for c in world.sim.calls if c.error_code == "Throttling"]
    assert len(throttled) == 60
    assert "operation_paused" not in [e.type for e in world.store.events(op.id)]
    assert classes(world) == {WRITER: TARGET, READER_2: TARGET, READER_3: TARGET}


def test_lasting_error_pauses_with_the_aws_message_and_continue_completes(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = world.create({"target_instance_type": TARGET})
    world.sim.faults.fail(
        "CreateDBInstance",
        "InsufficientDBInstanceCapacity",
        message="Cannot create a db.r6g.xlarge in us-east-1b right now",
        times=None,
    )
    paused = world.run(op.id)
    assert paused.outcome is Outcome.INTERVENTION
    assert paused.pause_reason is not None
    assert "InsufficientDBInstanceCapacity" in paused.pause_reason
    assert "Cannot create a db.r6g.xlarge" in paused.pause_reason
    assert world.store.load(op.id).state is OperationState.PAUSED
    assert world.engine.advance(op.id).outcome is Outcome.INTERVENTION  # stays paused until answered

    world.sim.faults.clear("CreateDBInstance")
    assert world.engine.resume(op.id, "continue", "capacity is back").outcome is Outcome.CONTINUE
    assert world.run(op.id).outcome is Outcome.COMPLETED
    assert classes(world) == {WRITER: TARGET, READER_2: TARGET, READER_3: TARGET}
    assert len(world.sim.successful_calls("CreateDBInstance")) == 1


def _pause_after_writer_changed(world: World) -> str:
    op = world.create({"target_instance_type": TARGET}, pause_before_steps=[f"modify_class:{READER_2}"])
    result = world.run(op.id)
    assert result.outcome is Outcome.INTERVENTION
    assert result.step_name == f"modify_class:{READER_2}"
    view = world.sim.cluster_view(CLUSTER)
    assert view.writer == temp_instance_id(CLUSTER, op.id)
    assert view.members[WRITER].instance_class == TARGET
    return op.id


@ON_EVERY_STORE
def test_abort_puts_the_writer_back_and_deletes_the_temp_instance(world: World, cluster_1w2r: list[str]) -> None:
    op_id = _pause_after_writer_changed(world)
    world.engine.resume(op_id, "abort", "change window closed")
    result = world.run(op_id)
    assert result.outcome is Outcome.FAILED
    op = world.store.load(op_id)
    assert op.state is OperationState.FAILED
    assert op.error is not None and "aborted" in op.error
    view = world.sim.cluster_view(CLUSTER)
    assert view.writer == WRITER
    assert not world.sim.instance_exists(temp_instance_id(CLUSTER, op_id))
    assert classes(world) == {WRITER: TARGET, READER_2: OLD, READER_3: OLD}


@ON_EVERY_STORE
def test_rollback_restores_classes_writer_and_removes_temp(world: World, cluster_1w2r: list[str]) -> None:
    op_id = _pause_after_writer_changed(world)
    world.engine.resume(op_id, "rollback")
    result = world.run(op_id)
    assert result.outcome is Outcome.FAILED
    assert world.store.load(op_id).state is OperationState.ROLLED_BACK
    assert world.sim.cluster_view(CLUSTER).writer == WRITER
    assert not world.sim.instance_exists(temp_instance_id(CLUSTER, op_id))
    assert classes(world) == {WRITER: OLD, READER_2: OLD, READER_3: OLD}


@pytest.mark.parametrize("fault", ["crash_after", "lose_response"])
@pytest.mark.parametrize("operation", ["CreateDBInstance", "FailoverDBCluster", "ModifyDBInstance", "DeleteDBInstance"])
def test_crash_or_lost_response_after_a_mutating_call_converges_without_repeating_it(
    world: World, cluster_1w2r: list[str], operation: str, fault: str
) -> None:
    """Each mutating call x each fault, on the file store.

    The S3 and DynamoDB cases (16 of the former 24) were merged into these: what a crash exercises in a
    store (a load by a fresh engine, the conditional save of the step it finds running, the lock its own
    operation already holds) is the same store code the happy path, abort and rollback run on every store
    above; with them, the 8 file-store cases reach every branch of rds_maint/, rds_sim/ and sfn_harness/
    that the 24 did (arc coverage compared before and after). The store contract itself is
    tests/stores/test_state_stores.py's.
    """
    op = world.create({"target_instance_type": TARGET})
    getattr(world.sim.faults, fault)(operation, times=1)
    if fault == "crash_after":
        with pytest.raises(SimulatedCrash):
            world.run(op.id)
        result = world.run(op.id, engine=world.new_engine())  # a fresh process picks it up
    else:
        result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert classes(world) == {WRITER: TARGET, READER_2: TARGET, READER_3: TARGET}
    assert world.sim.cluster_view(CLUSTER).writer == WRITER
    assert not world.sim.instance_exists(temp_instance_id(CLUSTER, op.id))
    applied = {name: len(world.sim.successful_calls(name)) for name in ("CreateDBInstance", "DeleteDBInstance")}
    applied["FailoverDBCluster"] = len(world.sim.successful_calls("FailoverDBCluster"))
    applied["ModifyDBInstance"] = len(world.sim.successful_calls("ModifyDBInstance"))
    lost = 1 if fault == "lose_response" else 0
    expected = {"CreateDBInstance": 1, "DeleteDBInstance": 1, "FailoverDBCluster": 2, "ModifyDBInstance": 3}
    # a lost response is a call AWS applied but answered with an error: it is not counted as successful
    expected[operation] -= lost
    assert applied == expected
    kinds = [t.kind for t in world.sim.transitions]
    assert kinds.count("create") == 1 and kinds.count("delete") == 1
    assert kinds.count("failover") == 2 and kinds.count("modify") == 3


def test_a_wait_that_times_out_pauses_and_continue_waits_again(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": TARGET}, wait_timeout=300)  # a create takes about 8 min
    result = world.run(op.id)
    assert result.outcome is Outcome.INTERVENTION
    assert result.pause_reason is not None and result.pause_reason.startswith("Timed out after 5 min")
    assert result.step_name == "create_temp_instance"
    pauses = 1
    while result.outcome is Outcome.INTERVENTION and pauses < 20:
        world.engine.resume(op.id, "continue")
        result = world.run(op.id)
        pauses += result.outcome is Outcome.INTERVENTION
    assert result.outcome is Outcome.COMPLETED
    assert pauses >= 4  # the create and each of the three modifies outlast 5 min
    assert classes(world) == {WRITER: TARGET, READER_2: TARGET, READER_3: TARGET}
    assert len(world.sim.successful_calls("CreateDBInstance")) == 1
    assert len(world.sim.successful_calls("ModifyDBInstance")) == 3


def test_an_instance_busy_with_someone_elses_change_pauses_after_the_timeout(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = world.create({"target_instance_type": TARGET}, wait_timeout=900)
    world.sim.faults.stuck(READER_2, status="modifying")
    result = world.run(op.id)
    assert result.outcome is Outcome.INTERVENTION
    assert result.step_name == f"modify_class:{READER_2}"
    assert result.pause_reason is not None and "could not act for 15 min" in result.pause_reason
    modified = [c.params["DBInstanceIdentifier"] for c in world.sim.successful_calls("ModifyDBInstance")]
    assert READER_2 not in modified
    world.sim.faults.unstick(READER_2)
    world.engine.resume(op.id, "continue")
    assert world.run(op.id).outcome is Outcome.COMPLETED
    assert classes(world)[READER_2] == TARGET


def test_reset_to_a_step_runs_it_again_idempotently(world: World, cluster_1w2r: list[str]) -> None:
    op_id = _pause_after_writer_changed(world)
    result = world.engine.reset(op_id, f"modify_class:{WRITER}")
    assert result.outcome is Outcome.INTERVENTION
    world.engine.resume(op_id, "continue")
    again = world.run(op_id)  # the steps after the reset are fresh: the requested pause comes again
    assert again.outcome is Outcome.INTERVENTION and again.step_name == f"modify_class:{READER_2}"
    world.engine.resume(op_id, "continue")
    assert world.run(op_id).outcome is Outcome.COMPLETED
    # the writer already had the target class: the repeated step did not modify it again
    writer_modifies = [
        c for c in world.sim.successful_calls("ModifyDBInstance") if c.params["DBInstanceIdentifier"] == WRITER
    ]
    assert len(writer_modifies) == 1
    assert classes(world) == {WRITER: TARGET, READER_2: TARGET, READER_3: TARGET}


def test_single_instance_cluster_moves_the_writer_through_a_temp_instance(world: World) -> None:
    world.sim.seed_cluster(CLUSTER, engine="aurora-postgresql", engine_version="15.4", instance_class=OLD, readers=0)
    op = world.create({"target_instance_type": TARGET})
    assert world.run(op.id).outcome is Outcome.COMPLETED
    view = world.sim.cluster_view(CLUSTER)
    assert view.writer == WRITER and classes(world) == {WRITER: TARGET}
    targets = [c.params["TargetDBInstanceIdentifier"] for c in world.sim.successful_calls("FailoverDBCluster")]
    assert targets == [temp_instance_id(CLUSTER, op.id), WRITER]
    assert not world.sim.instance_exists(temp_instance_id(CLUSTER, op.id))


def test_a_proxy_in_front_of_the_cluster_still_tracks_it_after_the_class_change(
    world: World, cluster_1w2r: list[str]
) -> None:
    world.sim.proxies.seed_proxy("orders-proxy", CLUSTER)
    op = world.create({"target_instance_type": TARGET})
    assert world.run(op.id).outcome is Outcome.COMPLETED
    assert world.sim.proxies.tracked_clusters("orders-proxy") == [CLUSTER]
    assert world.sim.cluster_view(CLUSTER).writer == WRITER
