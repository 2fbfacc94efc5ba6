"""engine_upgrade method in_place on an RDS DB instance: one ModifyDBInstance EngineVersion, down for the
whole upgrade (primary and standby together), a pause before it by default, no way back once sent."""

from __future__ import annotations

import re
from typing import Any

import pytest

from rds_maint.errors import BadInput
from rds_maint.model import Operation, OperationState, Outcome
from rds_maint.planning.estimate import estimate_steps
from rds_sim import SimulatedCrash
from tests.helpers.world import REGION, World

DB = "orders-db"
OLD, MINOR, MAJOR = "16.1", "16.4", "17.4"


def request(params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "engine_upgrade", "instance_id": DB, "region": REGION, "params": params, **extra}


def create(world: World, target: str = MINOR, params: dict[str, Any] | None = None, **extra: Any) -> Operation:
    body = {"target_engine_version": target, "method": "in_place", **(params or {})}
    return world.engine.create(request(body, **extra))


def seed(world: World, *, multi_az: bool = True) -> None:
    world.sim.seed_db_instance(DB, engine="postgres", engine_version=OLD, multi_az=multi_az)


def described(world: World) -> dict[str, Any]:
    return world.sim.instance_description(DB)


def upgrades(world: World) -> list[dict[str, Any]]:
    return [c.params for c in world.sim.applied_calls("ModifyDBInstance") if "EngineVersion" in c.params]


def run_through_the_pause(world: World, op: Operation) -> Any:
    paused = world.run(op.id)
    assert paused.outcome is Outcome.INTERVENTION and paused.step_name == f"upgrade_in_place:{DB}"
    assert upgrades(world) == []  # nothing sent before the person says so
    world.engine.resume(op.id, "continue")
    return world.run(op.id)


def assert_nothing_written(world: World) -> None:
    assert world.store.list_operations() == []
    assert world.mutating_calls() == []


def test_minor_in_place_upgrade_pauses_first_then_upgrades_once(world: World) -> None:
    seed(world)
    op = create(world)
    assert [s.name for s in op.steps] == ["check_db_instance", f"upgrade_in_place:{DB}", "verify"]
    [down] = estimate_steps(op.steps).interruptions
    upgrade = op.steps[1]
    assert down.kind == "downtime" and down.step_id == upgrade.id and down.seconds == 1800
    assert "primary and standby together" in upgrade.description

    result = run_through_the_pause(world, op)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    after = described(world)
    assert (after["EngineVersion"], after["DBInstanceStatus"]) == (MINOR, "available")
    assert not after.get("PendingModifiedValues")
    [call] = upgrades(world)
    assert call["EngineVersion"] == MINOR and not call.get("AllowMajorVersionUpgrade")
    assert len(world.sim.db_instance_outages(DB)) == 1
    assert world.store.load(op.id).state is OperationState.COMPLETED


def test_major_upgrade_with_the_default_group_sends_allow_major_and_ends_on_the_new_version(world: World) -> None:
    seed(world)
    op = create(world, MAJOR, {"pause_before_switchover": False})
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    [call] = upgrades(world)
    assert call["AllowMajorVersionUpgrade"] is True and "DBParameterGroupName" not in call
    assert described(world)["EngineVersion"] == MAJOR


def test_major_upgrade_with_a_group_of_the_new_family_ends_with_that_group(world: World) -> None:
    seed(world)
    world.gateway().create_parameter_group("instance", "orders-pg17", "postgres17", "orders on 17", {})
    op = create(world, MAJOR, {"db_instance_parameter_group_name": "orders-pg17", "pause_before_switchover": False})
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    [call] = upgrades(world)
    assert call["DBParameterGroupName"] == "orders-pg17"
    after = described(world)
    assert after["EngineVersion"] == MAJOR
    assert after["DBParameterGroups"][0]["DBParameterGroupName"] == "orders-pg17"


@pytest.mark.parametrize(
    ("target", "params", "expected"),
    [
        ("15.7", {}, "not a valid upgrade target of 16.1 .*valid targets: 16.4, 16.6, 17.2, 17.4"),
        (OLD, {}, "already runs postgres 16.1"),
        (MINOR, {"target_db_instance_class": "db.m6g.xlarge"}, "target_db_instance_class apply to method blue_green"),
        (MINOR, {"switchover_timeout": 60}, "switchover_timeout apply to method blue_green"),
        (MAJOR, {"db_instance_parameter_group_name": "nope"}, "nope does not exist"),
    ],
)
def test_refusals_name_what_is_wrong_and_write_nothing(
    world: World, target: str, params: dict[str, Any], expected: str
) -> None:
    seed(world)
    with pytest.raises(BadInput, match=expected):
        create(world, target, params)
    assert_nothing_written(world)


def test_a_group_of_the_wrong_family_is_refused(world: World) -> None:
    seed(world)
    world.gateway().create_parameter_group("instance", "orders-pg16", "postgres16", "orders on 16", {})
    with pytest.raises(BadInput, match=re.escape("family postgres16, but postgres 17.4 takes family postgres17")):
        create(world, MAJOR, {"db_instance_parameter_group_name": "orders-pg16"})
    assert world.store.list_operations() == []


@pytest.mark.parametrize("fault", ["crash_after", "lose_response"])
def test_crash_or_lost_answer_after_the_upgrade_call_converges_without_sending_it_again(
    world: World, fault: str
) -> None:
    seed(world)
    op = create(world, params={"pause_before_switchover": False})
    getattr(world.sim.faults, fault)("ModifyDBInstance", times=1)
    if fault == "crash_after":
        with pytest.raises(SimulatedCrash):
            world.run(op.id)
        result = world.run(op.id, engine=world.new_engine())
    else:
        result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert len(upgrades(world)) == 1
    assert described(world)["EngineVersion"] == MINOR
    assert [e.type for e in world.store.events(op.id)].count("upgrade_adopted") == 1


def test_abort_at_the_pause_changes_nothing(world: World) -> None:
    seed(world)
    op = create(world)
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    world.engine.resume(op.id, "abort")
    assert world.run(op.id).outcome is Outcome.FAILED
    assert upgrades(world) == []
    assert described(world)["EngineVersion"] == OLD
    assert not [e for e in world.store.events(op.id) if e.type.endswith("_limits")]


def test_rollback_after_the_upgrade_says_it_cannot_be_downgraded_and_changes_nothing(world: World) -> None:
    seed(world)
    op = create(world, params={"pause_before_switchover": False}, pause_before_steps=["verify"])
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    world.engine.resume(op.id, "rollback", "app errors", confirm=True)
    assert world.run(op.id).outcome is Outcome.FAILED
    assert world.store.load(op.id).state is OperationState.ROLLED_BACK
    assert len(upgrades(world)) == 1
    assert described(world)["EngineVersion"] == MINOR
    [limits] = [e.message for e in world.store.events(op.id) if e.type == "rollback_limits"]
    assert "RDS cannot downgrade it" in limits and "restore-db-instance-from-db-snapshot" in limits
