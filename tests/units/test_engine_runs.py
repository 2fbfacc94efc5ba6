"""Whole operations through the engine on the in-memory fake RDS: what AWS ends up as, and what was asked of it."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from rds_maint.model import OperationState, Outcome, StepState
from rds_maint.names import temp_instance_id
from tests.helpers.fake_rds import CLUSTER, NEW_CLASS, OLD_CLASS, READER_2, READER_3, WRITER, FakeWorld


def test_instance_type_change_moves_every_member_and_gives_the_writer_back(world: FakeWorld) -> None:
    op = world.create()
    result = world.run(op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    temp = temp_instance_id(CLUSTER, op.id)
    assert world.rds.classes() == {WRITER: NEW_CLASS, READER_2: NEW_CLASS, READER_3: NEW_CLASS}
    assert world.rds.writer() == WRITER
    assert not world.rds.exists(temp)
    created = world.rds.changes_of("create_cluster_instance")
    assert [c["instance_id"] for c in created] == [temp]
    assert created[0]["instance_class"] == NEW_CLASS
    assert created[0]["tags"]["rds-maint:operation-id"] == op.id
    assert [c["target"] for c in world.rds.changes_of("failover")] == [temp, WRITER]
    assert [c["instance_id"] for c in world.rds.changes_of("modify_instance")] == [WRITER, READER_2, READER_3]
    assert [c["instance_id"] for c in world.rds.changes_of("delete_instance")] == [temp]
    modifies = [c.at for c in world.rds.changes if c.method == "modify_instance"]
    for earlier, later in itertools.pairwise(modifies):  # one instance at a time
        assert (later - earlier).total_seconds() >= world.rds.modify_seconds
    stored = world.op(op.id)
    assert stored.state is OperationState.COMPLETED
    assert [s.state for s in stored.steps] == [StepState.COMPLETED] * len(stored.steps)
    types = world.event_types(op.id)
    assert types[0] == "operation_created" and types[-1] == "operation_completed"
    assert "operation_paused" not in types
    assert world.store.lock_holder(CLUSTER, op.region) is None


def test_instance_cycle_reboots_each_member_once_never_the_writer(root: Path) -> None:
    world = FakeWorld.make(root, pending_reboot=True)
    writer_at_reboot: list[str | None] = []
    for _ in range(3):
        world.rds.before("reboot_instance", lambda: writer_at_reboot.append(world.rds.clusters[CLUSTER].writer_id))
    op = world.create({}, type="instance_cycle")
    result = world.run(op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    temp = temp_instance_id(CLUSTER, op.id)
    assert [c["instance_id"] for c in world.rds.changes_of("reboot_instance")] == [WRITER, READER_2, READER_3]
    assert writer_at_reboot == [temp, temp, temp]  # the original writer was rebooted while the temp one wrote
    assert world.rds.changes_of("create_cluster_instance")[0]["instance_class"] == OLD_CLASS  # the writer's class
    assert world.rds.writer() == WRITER
    assert not world.rds.exists(temp)
    assert world.rds.classes() == {WRITER: OLD_CLASS, READER_2: OLD_CLASS, READER_3: OLD_CLASS}
    for instance_id in (WRITER, READER_2, READER_3):
        assert world.rds.instances[instance_id].parameter_apply_status == "in-sync"
        assert world.rds.instances[instance_id].promotion_tier == 1
    assert [s.name for s in world.op(op.id).steps][-2:] == ["restore_promotion_tiers", "verify"]


def test_pause_before_steps_stops_there_and_continue_runs_on(world: FakeWorld) -> None:
    op = world.create(pause_before_steps=["failover_to_temp"])
    paused = world.run(op.id)

    temp = temp_instance_id(CLUSTER, op.id)
    assert paused.outcome is Outcome.INTERVENTION
    assert paused.step_name == "failover_to_temp"
    assert paused.pause_reason is not None
    assert paused.pause_reason.startswith("Paused before step 'failover_to_temp'")
    assert world.rds.writer() == WRITER
    assert world.rds.instances[temp].status == "available"
    assert world.rds.changes_of("failover") == []
    assert world.op(op.id).state is OperationState.PAUSED

    world.engine.resume(op.id, "continue", "ready")
    result = world.drive(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert [c["target"] for c in world.rds.changes_of("failover")] == [temp, WRITER]
    assert world.event_types(op.id).count("operation_paused") == 1
    assert world.rds.classes() == {WRITER: NEW_CLASS, READER_2: NEW_CLASS, READER_3: NEW_CLASS}


def test_a_request_for_a_cluster_the_fake_does_not_have_is_bad_input_and_writes_nothing(world: FakeWorld) -> None:
    with pytest.raises(Exception, match="cluster 'billing' not found in us-east-1"):
        world.create(cluster_id="billing")
    assert world.store.list_operations() == []
    assert world.rds.changes == []


def test_the_fake_names_the_methods_it_does_not_implement(world: FakeWorld) -> None:
    with pytest.raises(NotImplementedError, match=r"FakeRds\.engine_version"):
        world.rds.engine_version("aurora-postgresql", "15.4")
