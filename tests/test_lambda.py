"""The Lambda contract: one engine call per invocation, the DESIGN section 4 shape every time."""

from __future__ import annotations

from typing import Any

from rds_maint.lambda_handler import handler
from tests.conftest import CLUSTER, REGION, World
from tests.test_bad_input import CONTRACT_KEYS

START = {
    "type": "instance_type_change",
    "cluster_id": CLUSTER,
    "region": REGION,
    "params": {"target_instance_type": "db.r6g.xlarge"},
}


def call(action: str, operation_id: str | None = None, /, **params: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"action": action}
    if operation_id:
        event["operation_id"] = operation_id
    if params:
        event["params"] = params
    result = handler(event, None)
    assert set(result) == CONTRACT_KEYS
    assert isinstance(result["wait_seconds"], int)
    assert [result[k] for k in ("continue", "needs_wait", "needs_intervention", "completed", "failed")].count(True) == 1
    return result


def drive(world: World, op_id: str) -> dict[str, Any]:
    """What the state machine does: step, Wait wait_seconds, poll, until an end or a person."""
    result = call("step", op_id)
    for _ in range(2000):
        if result["completed"] or result["failed"] or result["needs_intervention"]:
            return result
        if result["needs_wait"]:
            world.clock.sleep(result["wait_seconds"])
            result = call("poll", op_id)
        else:
            result = call("step", op_id)
    raise AssertionError("operation did not settle")


def test_a_whole_operation_through_the_lambda(world: World, cluster_1w2r: list[str]) -> None:
    created = call("create", **START)
    assert created["operation_state"] == "created" and created["error"] is None
    op_id = created["operation_id"]
    started = call("start", op_id)
    assert started["operation_state"] == "running" and started["continue"] is True
    final = drive(world, op_id)
    assert final["completed"] is True and final["operation_state"] == "completed"
    assert world.sim.cluster_view(CLUSTER).writer == f"{CLUSTER}-instance-1"
    assert {m.instance_class for m in world.sim.cluster_view(CLUSTER).members.values()} == {"db.r6g.xlarge"}
    assert call("step", op_id)["completed"] is True  # a final operation reports itself, changes nothing


def test_waits_report_seconds_and_advance_is_one_unit(world: World, cluster_1w2r: list[str]) -> None:
    op_id = call("create", **START)["operation_id"]
    call("start", op_id)
    first = call("step", op_id)
    assert first["step_name"] == "check_cluster" and first["step_state"] == "completed"
    assert first["continue"] is True
    second = call("step", op_id)
    assert second["step_name"] == "create_temp_instance"
    assert second["needs_wait"] is True and second["wait_seconds"] > 0
    assert len(world.sim.successful_calls("CreateDBInstance")) == 1
    again = call("poll", op_id)  # too early: still creating, no second create
    assert again["needs_wait"] is True
    assert len(world.sim.successful_calls("CreateDBInstance")) == 1


def test_step_before_start_is_an_error(world: World, cluster_1w2r: list[str]) -> None:
    op_id = call("create", **START)["operation_id"]
    result = call("step", op_id)
    assert result["error"] is not None and "has not been started" in result["error"]


def test_intervention_record_resume_and_fail(world: World, cluster_1w2r: list[str]) -> None:
    op_id = call("create", **START, pause_before_steps=["failback"])["operation_id"]
    call("start", op_id)
    paused = drive(world, op_id)
    assert paused["needs_intervention"] is True and paused["step_name"] == "failback"
    assert "Paused before step 'failback'" in paused["pause_reason"]

    recorded = call("record_intervention", op_id, task_token="tok-" + "x" * 100, step_name="failback", step_index=7)
    assert recorded["needs_intervention"] is True
    stored = world.store.load(op_id)
    assert stored.intervention is not None and stored.intervention.task_token.startswith("tok-")

    resumed = call("resume", op_id, action="continue", comment="go")
    assert resumed["continue"] is True and resumed["operation_state"] == "running"
    assert world.store.load(op_id).intervention is None
    assert call("resume", op_id, action="continue")["operation_state"] == "running"  # a retried answer is harmless

    failed = call("fail", op_id, error="States.TaskFailed", cause="Lambda timed out")
    assert failed["needs_intervention"] is True
    assert "States.TaskFailed" in failed["pause_reason"]
    assert world.store.load(op_id).state.value == "paused"
    call("resume", op_id, action="continue")
    assert drive(world, op_id)["completed"] is True
