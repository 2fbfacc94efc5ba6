"""storage_type_change on a simulated RDS DB instance: one ModifyDBInstance, online; the final instance is asserted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rds_maint.errors import BadInput
from rds_maint.model import Operation, OperationState, Outcome, StepState
from rds_maint.plans import rollback_limits
from rds_sim import SimulatedCrash
from tests.helpers.world import REGION, World

DB = "orders-db"
STORAGE_KEYS = ("StorageType", "AllocatedStorage", "Iops", "StorageThroughput")
ONLY_STORAGE_CALLS = {"ModifyDBInstance", "AddTagsToResource", "RemoveTagsFromResource"}


def request(params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "storage_type_change", "instance_id": DB, "region": REGION, "params": params, **extra}


def create(world: World, params: dict[str, Any], **extra: Any) -> Operation:
    return world.engine.create(request(params, **extra))


def storage(world: World) -> dict[str, Any]:
    view = world.sim.instance_description(DB)
    return {k: view.get(k) for k in STORAGE_KEYS} | {"status": view["DBInstanceStatus"]}


def pending_storage(world: World) -> dict[str, Any]:
    pending = world.sim.instance_description(DB).get("PendingModifiedValues") or {}
    return {k: v for k, v in pending.items() if k in STORAGE_KEYS}


def modify_calls(world: World) -> list[dict[str, Any]]:
    return [c.params for c in world.sim.applied_calls("ModifyDBInstance")]


def seed_gp2_400(world: World) -> None:
    world.sim.seed_db_instance(DB, engine="postgres", multi_az=True, storage_type="gp2", allocated_storage=400)


def test_gp2_to_gp3_on_a_multi_az_postgres_instance_with_iops_above_the_baseline(world: World) -> None:
    seed_gp2_400(world)
    before = world.sim.instance_description(DB)
    op = create(world, {"target_storage_type": "gp3", "iops": 15000, "storage_throughput": 750})
    assert [s.name for s in op.steps] == ["check_instance", "modify_storage", "wait_optimization", "verify"]
    notes = " ".join(world.store.load(op.id).context["notes"])
    assert "stays available" in notes and "storage-optimization" in notes and "Cannot be undone" in notes
    started = world.clock.now()
    result = world.run(op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert storage(world) == {
        "StorageType": "gp3",
        "AllocatedStorage": 400,
        "Iops": 15000,
        "StorageThroughput": 750,
        "status": "available",
    }
    assert pending_storage(world) == {}
    assert modify_calls(world) == [
        {
            "DBInstanceIdentifier": DB,
            "ApplyImmediately": True,
            "StorageType": "gp3",
            "Iops": 15000,
            "StorageThroughput": 750,
            "AllocatedStorage": 400,
        }
    ]
    assert set(world.mutating_calls()) <= ONLY_STORAGE_CALLS
    after = world.sim.instance_description(DB)
    # online: no failover (the primary stays in its zone), no outage, same class
    assert after["AvailabilityZone"] == before["AvailabilityZone"]
    assert after["DBInstanceClass"] == before["DBInstanceClass"]
    assert world.sim.db_instance_outages(DB) == []
    stored = world.store.load(op.id)
    assert stored.state is OperationState.COMPLETED
    assert all(s.state is StepState.COMPLETED for s in stored.steps)
    # the operation ended once optimization had ended: hours of virtual time, not the minutes of the modify
    assert stored.steps[2].result["optimization_seen"] is True
    assert world.clock.now() - started > timedelta(hours=1)
    [requested] = [e for e in world.store.events(op.id) if e.type == "modify_requested"]
    assert "gp2, 400 GiB -> gp3, 400 GiB, 15000 IOPS, 750 MiB/s" in requested.message
    assert (requested.data["from_storage_type"], requested.data["to_storage_type"]) == ("gp2", "gp3")


def test_gp2_to_gp3_below_the_threshold_is_ours_though_aws_fills_in_the_baseline(world: World) -> None:
    """gp3 under 400 GiB takes no IOPS: AWS shows its fixed baseline pending, which is the planned change."""
    world.sim.seed_db_instance(DB, engine="postgres", multi_az=True, storage_type="gp2", allocated_storage=100)
    op = create(world, {"target_storage_type": "gp3"})
    result = world.run(op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    final = storage(world)
    assert (final["StorageType"], final["AllocatedStorage"], final["status"]) == ("gp3", 100, "available")
    assert len(modify_calls(world)) == 1
    assert "AllocatedStorage" not in modify_calls(world)[0] and "Iops" not in modify_calls(world)[0]


def test_gp3_to_io2_keeps_the_size(world: World) -> None:
    world.sim.seed_db_instance(
        DB,
        engine="mysql",
        engine_version="8.0.39",
        multi_az=False,
        storage_type="gp3",
        allocated_storage=500,
        iops=12000,
        storage_throughput=500,
    )
    op = create(world, {"target_storage_type": "io2", "iops": 25000})
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    final = storage(world)
    assert (final["StorageType"], final["AllocatedStorage"], final["Iops"], final["status"]) == (
        "io2",
        500,
        25000,
        "available",
    )
    assert pending_storage(world) == {}
    [call] = modify_calls(world)
    assert (call["StorageType"], call["Iops"], call["AllocatedStorage"]) == ("io2", 25000, 500)
    assert "StorageThroughput" not in call
    assert set(world.mutating_calls()) <= ONLY_STORAGE_CALLS


# -- bad input: refused before anything is written ----------------------------------------------------


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"target_storage_type": "gp4"}, ["unknown storage type", "gp2, gp3, io1, io2, standard"]),
        ({"target_storage_type": "gp3", "allocated_storage": 300}, ["only grows", "current 400"]),
        ({"target_storage_type": "gp3", "allocated_storage": 420}, ["at least 10 %", "440"]),
        ({"target_storage_type": "io1"}, ["io1 needs iops"]),
        ({"target_storage_type": "io1", "iops": 50000}, ["0.5 to 50 IOPS per GiB", "between 1000 and 20000"]),
        ({"target_storage_type": "io2", "iops": 5000, "storage_throughput": 500}, ["gp3 only"]),
        ({"target_storage_type": "gp3", "iops": 70000}, ["12000 to 64000 IOPS"]),
        ({"target_storage_type": "gp2"}, ["nothing to change"]),
        ({"target_storage_type": "gp3", "exclude_instances": ["x"]}, ["exclude_instances", "make no sense"]),
        ({"target_storage_type": "gp3", "skip_temp_instance": True}, ["skip_temp_instance", "no temp instance"]),
    ],
)
def test_bad_storage_input_is_refused_with_nothing_written(
    world: World, params: dict[str, Any], words: list[str]
) -> None:
    seed_gp2_400(world)
    with pytest.raises(BadInput) as caught:
        create(world, params)
    for word in words:
        assert word in str(caught.value), (word, str(caught.value))
    assert world.store.list_operations() == []
    assert world.mutating_calls() == []
    assert storage(world)["StorageType"] == "gp2"


def test_gp3_below_the_threshold_refuses_iops(world: World) -> None:
    world.sim.seed_db_instance(DB, engine="postgres", storage_type="gp2", allocated_storage=100)
    with pytest.raises(BadInput, match=r"gp3 below 400 GiB on postgres has a fixed baseline of 3000 IOPS"):
        create(world, {"target_storage_type": "gp3", "iops": 6000})
    assert world.store.list_operations() == [] and world.mutating_calls() == []


def test_storage_optimization_and_the_six_hour_rule_are_refused_with_the_time(world: World) -> None:
    seed_gp2_400(world)
    op = create(world, {"target_storage_type": "gp3"})
    world.engine.start(op.id)
    while world.store.load(op.id).current_step.name != "wait_optimization":  # type: ignore[union-attr]
        world.clock.sleep(world.engine.advance(op.id).wait_seconds)
    assert storage(world)["status"] == "storage-optimization"
    events = world.gateway().instance_events(DB, world.clock.now() - timedelta(days=1))
    finished = [when for when, message in events if "Finished applying modification" in message]
    allowed = finished[-1] + timedelta(hours=6)
    with pytest.raises(BadInput) as busy:  # our own operation holds the instance until optimization ends
        create(world, {"target_storage_type": "io1", "iops": 8000})
    assert f"instance '{DB}' in {REGION} is busy: operation '{op.id}'" in str(busy.value)

    assert world.run(op.id).outcome is Outcome.COMPLETED
    assert world.clock.now() < allowed  # optimization ended before the 6 hours: the rule still holds
    with pytest.raises(BadInput) as within:
        create(world, {"target_storage_type": "io1", "iops": 8000})
    assert f"from {allowed:%Y-%m-%d %H:%M} UTC" in str(within.value) and "6 hours" in str(within.value)
    assert len(world.store.list_operations()) == 1 and len(modify_calls(world)) == 1

    world.clock.advance((allowed - world.clock.now()).total_seconds() + 60)
    later = create(world, {"target_storage_type": "io1", "iops": 8000})
    assert world.run(later.id).outcome is Outcome.COMPLETED
    assert storage(world)["StorageType"] == "io1" and storage(world)["Iops"] == 8000


def test_an_instance_in_storage_optimization_is_refused_with_the_time(world: World) -> None:
    """Optimizing after a change someone else made: refused with when AWS allows the next change."""
    seed_gp2_400(world)
    ended = world.clock.now() - timedelta(hours=1)
    world.sim.set_last_storage_change(DB, ended, optimizing_until=world.clock.now() + timedelta(hours=8))
    assert storage(world)["status"] == "storage-optimization"
    with pytest.raises(BadInput) as optimizing:
        create(world, {"target_storage_type": "io1", "iops": 8000})
    assert "storage-optimization" in str(optimizing.value)
    assert world.store.list_operations() == [] and world.mutating_calls() == []


# -- crashes: nothing twice -------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["crash_after", "lose_response"])
def test_a_crash_or_lost_answer_after_modify_converges_without_sending_it_again(world: World, fault: str) -> None:
    seed_gp2_400(world)
    op = create(world, {"target_storage_type": "gp3", "iops": 15000, "storage_throughput": 750})
    getattr(world.sim.faults, fault)("ModifyDBInstance", times=1)
    if fault == "crash_after":
        with pytest.raises(SimulatedCrash):
            world.run(op.id)
        result = world.run(op.id, engine=world.new_engine())
    else:
        result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert len(modify_calls(world)) == 1
    assert storage(world)["StorageType"] == "gp3" and storage(world)["Iops"] == 15000
    assert any(e.type == "modify_adopted" for e in world.store.events(op.id))


# -- abort and rollback ---------------------------------------------------------------------------------


def test_abort_before_the_change_leaves_the_storage_as_it_is(world: World) -> None:
    seed_gp2_400(world)
    op = create(world, {"target_storage_type": "gp3"}, pause_before_steps=["modify_storage"])
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    assert rollback_limits(world.store.load(op.id)) is None  # nothing was changed yet
    world.engine.resume(op.id, "abort")
    assert world.run(op.id).outcome is Outcome.FAILED
    assert storage(world)["StorageType"] == "gp2" and pending_storage(world) == {}
    assert modify_calls(world) == []
    assert set(world.mutating_calls()) <= {"AddTagsToResource", "RemoveTagsFromResource"}


def test_rollback_after_the_change_changes_nothing_and_says_why(world: World) -> None:
    seed_gp2_400(world)
    op = create(world, {"target_storage_type": "gp3"}, pause_before_steps=["verify"])
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    limits = rollback_limits(world.store.load(op.id))
    assert limits is not None and "cannot be undone" in limits and "6 hours" in limits
    with pytest.raises(BadInput, match=r"needs confirming: .*cannot be undone"):
        world.engine.resume(op.id, "rollback", "wrong type")  # said before it is accepted
    world.engine.resume(op.id, "rollback", "wrong type", confirm=True)
    world.run(op.id)
    stored = world.store.load(op.id)
    assert stored.state is OperationState.ROLLED_BACK
    assert stored.steps[-1].name == "storage_not_undone" and stored.steps[-1].state is StepState.COMPLETED
    assert any(e.type == "rollback_limits" and "cannot be undone" in e.message for e in world.store.events(op.id))
    assert storage(world)["StorageType"] == "gp3"  # AWS cannot undo it; rollback sent nothing
    assert len(modify_calls(world)) == 1


# -- through the CLI, and someone else's change ---------------------------------------------------------


def test_run_through_the_cli_changes_the_storage_and_status_shows_it(world: World) -> None:
    seed_gp2_400(world)
    op = create(world, {"target_storage_type": "gp3", "iops": 15000, "storage_throughput": 750})
    finished = world.cli(["run", op.id])
    assert finished.exit_code == 0, finished.output
    assert storage(world) == {
        "StorageType": "gp3",
        "AllocatedStorage": 400,
        "Iops": 15000,
        "StorageThroughput": 750,
        "status": "available",
    }
    shown = world.cli(["status", op.id])
    assert shown.exit_code == 0, shown.output
    assert "completed" in shown.output.lower() and "wait_optimization" in shown.output
    assert len(modify_calls(world)) == 1


def test_a_storage_change_made_by_someone_else_after_planning_pauses_for_a_person(world: World) -> None:
    seed_gp2_400(world)
    op = create(world, {"target_storage_type": "gp3", "iops": 15000, "storage_throughput": 750})
    world.gateway().modify_instance_storage(DB, storage_type="io1", iops=4000, allocated_storage=400)
    paused = world.run(op.id)
    assert paused.outcome is Outcome.INTERVENTION
    assert paused.pause_reason is not None and "another storage change pending" in paused.pause_reason
    assert "io1" in paused.pause_reason
    assert [c["StorageType"] for c in modify_calls(world)] == ["io1"]  # ours was never sent


def test_rollback_while_aws_applies_the_change_records_that_it_goes_on(world: World) -> None:
    seed_gp2_400(world)
    op = create(world, {"target_storage_type": "gp3"})
    world.engine.start(op.id)
    while world.store.load(op.id).current_step.state is not StepState.WAITING:  # type: ignore[union-attr]
        world.engine.advance(op.id)
    assert world.store.load(op.id).current_step.name == "modify_storage"  # type: ignore[union-attr]
    assert pending_storage(world)["StorageType"] == "gp3"
    limits = rollback_limits(world.store.load(op.id))
    assert limits is not None and "keeps gp3, 400 GiB" in limits and "it had gp2, 400 GiB" in limits
    world.engine.resume(op.id, "rollback", confirm=True)
    world.run(op.id)
    stored = world.store.load(op.id)
    assert stored.state is OperationState.ROLLED_BACK
    assert [s.name for s in stored.steps[4:]] == ["storage_not_undone"]
    world.clock.advance(3600)
    assert storage(world)["StorageType"] == "gp3"  # AWS finished the change it had accepted; nothing was sent back
    assert len(modify_calls(world)) == 1
