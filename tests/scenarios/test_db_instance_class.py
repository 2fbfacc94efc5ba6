"""instance_type_change on an RDS DB instance (not in a cluster): one ModifyDBInstance of its class.

Multi-AZ: RDS changes the standby, fails over to it and changes the old primary (one failover: the primary
in the other zone after it). Single-AZ: down for the whole change, refused unless allow_downtime.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from rds_maint.errors import BadInput
from rds_maint.model import Operation, OperationState, Outcome
from rds_maint.planning.estimate import estimate_steps
from rds_sim import SimulatedCrash
from tests.helpers.world import REGION, World

DB = "orders-db"
OLD, NEW = "db.m6g.large", "db.m6g.xlarge"


def request(params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "instance_type_change", "instance_id": DB, "region": REGION, "params": params, **extra}


def create(world: World, params: dict[str, Any] | None = None, **extra: Any) -> Operation:
    return world.engine.create(request({"target_instance_type": NEW, **(params or {})}, **extra))


def seed(world: World, *, multi_az: bool = True) -> dict[str, Any]:
    world.sim.seed_db_instance(DB, instance_class=OLD, multi_az=multi_az)
    return described(world)


def described(world: World) -> dict[str, Any]:
    return world.sim.instance_description(DB)


def class_calls(world: World) -> list[str]:
    """The classes ModifyDBInstance applied on the instance, in order (whether or not the caller heard back)."""
    return [str(c.params["DBInstanceClass"]) for c in world.sim.applied_calls("ModifyDBInstance")]


def step_result(world: World, op_id: str, name: str) -> dict[str, Any]:
    return next(s.result for s in world.store.load(op_id).steps if s.name == name)


def assert_nothing_written(world: World) -> None:
    assert world.store.list_operations() == []
    assert world.mutating_calls() == []


# -- Multi-AZ: one failover ------------------------------------------------------------------------------


def test_multi_az_class_change_fails_over_once_and_ends_on_the_new_class(world: World) -> None:
    before = seed(world)
    op = create(world)
    assert [s.name for s in op.steps] == ["check_db_instance", f"modify_class:{DB}", "verify"]
    estimate = estimate_steps(op.steps)
    assert [(i.kind, i.seconds) for i in estimate.interruptions] == [("multi_az_failover", 90.0)]

    result = world.run(op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    after = described(world)
    assert after["DBInstanceClass"] == NEW and after["DBInstanceStatus"] == "available"
    assert after["MultiAZ"] is True and not after.get("PendingModifiedValues")
    # The primary now runs where the standby was, and the other way round; the endpoint is the same name.
    assert (after["AvailabilityZone"], after["SecondaryAvailabilityZone"]) == (
        before["SecondaryAvailabilityZone"],
        before["AvailabilityZone"],
    )
    assert after["Endpoint"]["Address"] == before["Endpoint"]["Address"]
    assert class_calls(world) == [NEW]
    assert world.store.load(op.id).state is OperationState.COMPLETED
    record = step_result(world, op.id, f"modify_class:{DB}")
    assert (record["zone_before"], record["zone_after"]) == (before["AvailabilityZone"], after["AvailabilityZone"])
    assert any("failover" in e.lower() for e in record["failover_events"])
    moved = [e for e in world.store.events(op.id) if e.type == "primary_moved"]
    assert len(moved) == 1
    assert before["Endpoint"]["Address"] in moved[0].message and "keeps its name" in moved[0].message


# -- Single-AZ: downtime, only if accepted ------------------------------------------------------------------


def test_single_az_class_change_is_refused_without_allow_downtime_and_nothing_is_written(world: World) -> None:
    seed(world, multi_az=False)
    with pytest.raises(BadInput) as refused:
        create(world)
    message = str(refused.value)
    assert "Single-AZ" in message and "allow_downtime=true" in message and "minutes" in message
    assert "--multi-az" in message
    assert_nothing_written(world)
    assert described(world)["DBInstanceClass"] == OLD


def test_single_az_class_change_with_allow_downtime_is_down_once_and_ends_on_the_new_class(world: World) -> None:
    seed(world, multi_az=False)
    op = create(world, {"allow_downtime": True})
    estimate = estimate_steps(op.steps)
    [down] = estimate.interruptions
    modify = next(s for s in op.steps if s.name == f"modify_class:{DB}")
    assert down.kind == "downtime" and down.step_id == modify.id and down.seconds >= 600
    assert "down until the change ends" in modify.description

    result = world.run(op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    after = described(world)
    assert (after["DBInstanceClass"], after["DBInstanceStatus"], after["MultiAZ"]) == (NEW, "available", False)
    assert class_calls(world) == [NEW]
    assert len(world.sim.db_instance_outages(DB)) == 1
    assert not [e for e in world.store.events(op.id) if e.type == "primary_moved"]


# -- refusals before anything is written ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"target_instance_type": OLD}, "already db.m6g.large"),
        ({"exclude_instances": ["x"]}, "exclude_instances applies to clusters only"),
        ({"skip_temp_instance": True}, "skip_temp_instance applies to Aurora clusters only"),
        ({"target_instance_type": "db.z9.large"}, "not orderable for postgres 16.4"),
    ],
)
def test_refusals_name_what_is_wrong_and_write_nothing(world: World, params: dict[str, Any], expected: str) -> None:
    seed(world)
    with pytest.raises(BadInput, match=expected):
        create(world, params)
    assert_nothing_written(world)


def test_a_cluster_member_is_refused_with_the_cluster_to_name(world: World) -> None:
    [writer, *_] = world.sim.seed_cluster("orders-prod", readers=0)
    with pytest.raises(BadInput, match="--cluster orders-prod"):
        world.engine.create(request({"target_instance_type": NEW}) | {"instance_id": writer})
    assert_nothing_written(world)


# -- crashes and lost answers: nothing twice -------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["crash_after", "lose_response"])
def test_crash_or_lost_answer_after_the_modify_converges_without_sending_it_again(world: World, fault: str) -> None:
    seed(world)
    op = create(world)
    getattr(world.sim.faults, fault)("ModifyDBInstance", times=1)
    if fault == "crash_after":
        with pytest.raises(SimulatedCrash):
            world.run(op.id)
        result = world.run(op.id, engine=world.new_engine())
    else:
        result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert class_calls(world) == [NEW]
    assert described(world)["DBInstanceClass"] == NEW
    assert Counter(e.type for e in world.store.events(op.id))["modify_adopted"] == 1


# -- rollback and abort ------------------------------------------------------------------------------------------


def test_rollback_after_the_change_changes_the_class_back_with_a_second_failover(world: World) -> None:
    before = seed(world)
    op = create(world, pause_before_steps=["verify"])
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    assert described(world)["DBInstanceClass"] == NEW
    world.engine.resume(op.id, "rollback", "app slower", confirm=True)
    result = world.run(op.id)

    assert result.outcome is Outcome.FAILED
    assert world.store.load(op.id).state is OperationState.ROLLED_BACK
    after = described(world)
    assert (after["DBInstanceClass"], after["DBInstanceStatus"]) == (OLD, "available")
    assert class_calls(world) == [NEW, OLD]
    # Two failovers: the primary is back in its first zone.
    assert after["AvailabilityZone"] == before["AvailabilityZone"]


def test_abort_before_the_change_changes_nothing(world: World) -> None:
    seed(world)
    op = create(world, pause_before_steps=[f"modify_class:{DB}"])
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    world.engine.resume(op.id, "abort")
    assert world.run(op.id).outcome is Outcome.FAILED
    assert class_calls(world) == []
    assert described(world)["DBInstanceClass"] == OLD


def test_a_rollback_that_costs_a_second_failover_must_be_confirmed(world: World) -> None:
    seed(world)
    op = create(world, pause_before_steps=["verify"])
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    with pytest.raises(BadInput, match="second class change: another failover"):
        world.engine.resume(op.id, "rollback", "app slower")
    assert class_calls(world) == [NEW]


def test_the_run_summary_names_the_multi_az_failover_it_measured(world: World) -> None:
    seed(world)
    result = world.cli(
        ["run", "--type", "instance_type_change", "--instance", DB, "--region", REGION, "--yes",
         "--param", f"target_instance_type={NEW}", "--store", world.store_url]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = result.output.split("Write interruptions: 1\n", 1)[1].splitlines()[0].strip()
    # the failover AWS reported (about 90 s in the simulator), not the whole 15-minute class change
    assert summary.startswith("Multi-AZ failover at "), summary
    minutes, seconds = summary.rsplit(": ", 1)[1].rstrip("s").split("m")
    assert 30 <= int(minutes) * 60 + int(seconds) <= 150, summary
    assert described(world)["DBInstanceClass"] == NEW
