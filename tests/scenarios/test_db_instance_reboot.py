"""instance_cycle on an RDS DB instance: one reboot, with a failover to the standby when Multi-AZ."""

from __future__ import annotations

from typing import Any

import pytest

from rds_maint.errors import BadInput
from rds_maint.model import Operation, OperationState, Outcome
from rds_maint.planning.estimate import estimate_steps
from rds_sim import SimulatedCrash
from tests.helpers.world import REGION, World

DB = "orders-db"


def request(params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "instance_cycle", "instance_id": DB, "region": REGION, "params": params, **extra}


def create(world: World, params: dict[str, Any] | None = None, **extra: Any) -> Operation:
    return world.engine.create(request(params or {}, **extra))


def seed(world: World, *, multi_az: bool = True) -> dict[str, Any]:
    world.sim.seed_db_instance(DB, multi_az=multi_az)
    return described(world)


def described(world: World) -> dict[str, Any]:
    return world.sim.instance_description(DB)


def reboots(world: World) -> list[bool]:
    """The reboots AWS applied (whether or not the caller heard back): ForceFailover of each."""
    return [bool(c.params.get("ForceFailover")) for c in world.sim.applied_calls("RebootDBInstance")]


def parameter_status(world: World) -> str:
    return str(described(world)["DBParameterGroups"][0]["ParameterApplyStatus"])


def assert_nothing_written(world: World) -> None:
    assert world.store.list_operations() == []
    assert world.mutating_calls() == []


def test_multi_az_reboot_fails_over_to_the_standby_once(world: World) -> None:
    before = seed(world)
    op = create(world)
    assert [s.name for s in op.steps] == ["check_db_instance", f"reboot:{DB}", "verify"]
    assert [i.kind for i in estimate_steps(op.steps).interruptions] == ["multi_az_failover"]

    result = world.run(op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert reboots(world) == [True]
    after = described(world)
    assert after["DBInstanceStatus"] == "available"
    assert (after["AvailabilityZone"], after["SecondaryAvailabilityZone"]) == (
        before["SecondaryAvailabilityZone"],
        before["AvailabilityZone"],
    )
    types = [e.type for e in world.store.events(op.id)]
    assert types.count("reboot_requested") == 1 and types.count("primary_moved") == 1
    assert world.store.load(op.id).state is OperationState.COMPLETED


def test_single_az_reboot_is_refused_without_allow_downtime(world: World) -> None:
    seed(world, multi_az=False)
    with pytest.raises(BadInput) as refused:
        create(world)
    assert "Single-AZ" in str(refused.value) and "allow_downtime=true" in str(refused.value)
    assert_nothing_written(world)


def test_single_az_reboot_with_allow_downtime_reboots_once_without_failover(world: World) -> None:
    seed(world, multi_az=False)
    op = create(world, {"allow_downtime": True})
    [down] = estimate_steps(op.steps).interruptions
    assert down.kind == "downtime"
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert reboots(world) == [False]
    assert described(world)["DBInstanceStatus"] == "available"
    assert len(world.sim.db_instance_outages(DB)) == 1


def test_only_pending_reboot_is_refused_when_nothing_is_pending(world: World) -> None:
    seed(world)
    with pytest.raises(BadInput, match="not pending-reboot; nothing to reboot"):
        create(world, {"only_pending_reboot": True})
    assert_nothing_written(world)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"exclude_instances": ["x"]}, "exclude_instances applies to clusters only"),
        ({"skip_temp_instance": True}, "skip_temp_instance applies to Aurora clusters only"),
        ({"reboot_whole_cluster": True}, "reboot_whole_cluster applies to Multi-AZ DB clusters only"),
    ],
)
def test_cluster_params_are_refused_for_a_db_instance(world: World, params: dict[str, Any], expected: str) -> None:
    seed(world)
    with pytest.raises(BadInput, match=expected):
        create(world, params)
    assert_nothing_written(world)


def test_only_pending_reboot_reboots_and_the_parameters_end_in_sync(world: World) -> None:
    seed(world)
    world.sim.set_parameter_apply_status(DB, "pending-reboot")
    op = create(world, {"only_pending_reboot": True})
    assert "in-sync" in op.steps[1].description
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert reboots(world) == [True]
    assert parameter_status(world) == "in-sync"


@pytest.mark.parametrize("restart_after", [0, 20, 120, 900])
def test_crash_right_after_the_reboot_call_never_reboots_twice(world: World, restart_after: int) -> None:
    """However long the new process takes to come back (quiet moment, rebooting, rebooted), one reboot."""
    seed(world)
    op = create(world)
    world.sim.faults.crash_after("RebootDBInstance", times=1)
    with pytest.raises(SimulatedCrash):
        world.run(op.id)
    world.clock.advance(restart_after)
    result = world.run(op.id, engine=world.new_engine())
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert reboots(world) == [True]
    assert described(world)["DBInstanceStatus"] == "available"
    adopted = [e for e in world.store.events(op.id) if e.type == "reboot_adopted"]
    assert len(adopted) == 1


def test_lost_answer_of_the_reboot_call_is_not_resent(world: World) -> None:
    seed(world)
    op = create(world)
    world.sim.faults.lose_response("RebootDBInstance", times=1)
    result = world.run(op.id)
    if result.outcome is Outcome.INTERVENTION:  # an error the engine cannot judge: a person resumes
        world.engine.resume(op.id, "continue")
        result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert reboots(world) == [True]


def test_rollback_after_the_reboot_says_it_cannot_be_undone_and_changes_nothing(world: World) -> None:
    seed(world)
    op = create(world, pause_before_steps=["verify"])
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    world.engine.resume(op.id, "rollback", "testing", confirm=True)
    result = world.run(op.id)
    assert result.outcome is Outcome.FAILED
    assert world.store.load(op.id).state is OperationState.ROLLED_BACK
    assert reboots(world) == [True]
    limits = [e.message for e in world.store.events(op.id) if e.type == "rollback_limits"]
    assert limits == [f"A reboot cannot be undone: {DB} was rebooted. Rollback changes nothing on AWS"]


def test_abort_before_the_reboot_reboots_nothing(world: World) -> None:
    seed(world)
    op = create(world, pause_before_steps=[f"reboot:{DB}"])
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    world.engine.resume(op.id, "abort")
    assert world.run(op.id).outcome is Outcome.FAILED
    assert reboots(world) == []
    assert described(world)["DBInstanceStatus"] == "available"


def test_an_instance_made_single_az_after_the_plan_is_not_rebooted(world: World) -> None:
    """The plan promised a failover; a Single-AZ instance would be down instead: a person decides."""
    seed(world)
    op = create(world)
    world.rds_client().modify_db_instance(DBInstanceIdentifier=DB, MultiAZ=False, ApplyImmediately=True)
    assert described(world)["MultiAZ"] is False
    paused = world.run(op.id)
    assert paused.outcome is Outcome.INTERVENTION and paused.step_name == "check_db_instance"
    assert "Single-AZ now (planned Multi-AZ)" in str(paused.pause_reason)
    assert reboots(world) == []
