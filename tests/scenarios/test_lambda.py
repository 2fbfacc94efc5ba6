"""The Lambda contract: one engine call per invocation, the DESIGN section 4 shape every time."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from rds_maint import config, lambda_handler, log
from rds_maint.config import Settings
from rds_maint.engine import Engine
from tests.helpers.contract import CONTRACT_KEYS
from tests.helpers.world import CLUSTER, REGION, World

START = {
    "type": "instance_type_change",
    "cluster_id": CLUSTER,
    "region": REGION,
    "params": {"target_instance_type": "db.r6g.xlarge"},
}


def call(world: World, action: str, operation_id: str | None = None, /, **params: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"action": action}
    if operation_id:
        event["operation_id"] = operation_id
    if params:
        event["params"] = params
    result = world.handler(event, None)
    assert set(result) == CONTRACT_KEYS
    assert isinstance(result["wait_seconds"], int)
    assert [result[k] for k in ("continue", "needs_wait", "needs_intervention", "completed", "failed")].count(True) == 1
    return result


def drive(world: World, op_id: str) -> dict[str, Any]:
    """What the state machine does: step, Wait wait_seconds, poll, until an end or a person."""
    result = call(world, "step", op_id)
    for _ in range(2000):
        if result["completed"] or result["failed"] or result["needs_intervention"]:
            return result
        if result["needs_wait"]:
            world.clock.sleep(result["wait_seconds"])
            result = call(world, "poll", op_id)
        else:
            result = call(world, "step", op_id)
    raise AssertionError("operation did not settle")


def test_a_whole_operation_through_the_lambda(world: World, cluster_1w2r: list[str]) -> None:
    created = call(world, "create", **START)
    assert created["operation_state"] == "created" and created["error"] is None
    op_id = created["operation_id"]
    started = call(world, "start", op_id)
    assert started["operation_state"] == "running" and started["continue"] is True
    final = drive(world, op_id)
    assert final["completed"] is True and final["operation_state"] == "completed"
    assert world.sim.cluster_view(CLUSTER).writer == f"{CLUSTER}-instance-1"
    assert {m.instance_class for m in world.sim.cluster_view(CLUSTER).members.values()} == {"db.r6g.xlarge"}
    assert call(world, "step", op_id)["completed"] is True  # a final operation reports itself, changes nothing


def test_waits_report_seconds_and_advance_is_one_unit(world: World, cluster_1w2r: list[str]) -> None:
    op_id = call(world, "create", **START)["operation_id"]
    call(world, "start", op_id)
    first = call(world, "step", op_id)
    assert first["step_name"] == "check_cluster" and first["step_state"] == "completed"
    assert first["continue"] is True
    second = call(world, "step", op_id)
    assert second["step_name"] == "create_temp_instance"
    assert second["needs_wait"] is True and second["wait_seconds"] > 0
    assert len(world.sim.successful_calls("CreateDBInstance")) == 1
    again = call(world, "poll", op_id)  # too early: still creating, no second create
    assert again["needs_wait"] is True
    assert len(world.sim.successful_calls("CreateDBInstance")) == 1


def test_step_before_start_is_an_error(world: World, cluster_1w2r: list[str]) -> None:
    op_id = call(world, "create", **START)["operation_id"]
    result = call(world, "step", op_id)
    assert result["error"] is not None and "has not been started" in result["error"]


def test_intervention_record_resume_and_fail(world: World, cluster_1w2r: list[str]) -> None:
    op_id = call(world, "create", **START, pause_before_steps=["failback"])["operation_id"]
    call(world, "start", op_id)
    paused = drive(world, op_id)
    assert paused["needs_intervention"] is True and paused["step_name"] == "failback"
    assert "Paused before step 'failback'" in paused["pause_reason"]

    recorded = call(
        world, "record_intervention", op_id, task_token="tok-" + "x" * 100, step_name="failback", step_index=7
    )
    assert recorded["needs_intervention"] is True
    stored = world.store.load(op_id)
    assert stored.intervention is not None and stored.intervention.task_token.startswith("tok-")

    resumed = call(world, "resume", op_id, action="continue", comment="go")
    assert resumed["continue"] is True and resumed["operation_state"] == "running"
    assert world.store.load(op_id).intervention is None
    assert (
        call(world, "resume", op_id, action="continue")["operation_state"] == "running"
    )  # a retried answer is harmless

    failed = call(world, "fail", op_id, error="States.TaskFailed", cause="Lambda timed out")
    assert failed["needs_intervention"] is True
    assert "States.TaskFailed" in failed["pause_reason"]
    assert world.store.load(op_id).state.value == "paused"
    call(world, "resume", op_id, action="continue")
    assert drive(world, op_id)["completed"] is True


# ------------------------------------------------------------------------------ logs


@dataclass
class FakeContext:
    """The attributes of Lambda's context object that the logs read."""

    aws_request_id: str
    function_name: str = "rds-maint-engine"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:rds-maint-engine"
    memory_limit_in_mb: str = "512"


LogReader = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def lambda_logs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[LogReader]:
    """Logging configured as in Lambda (AWS_LAMBDA_FUNCTION_NAME set), in a fresh container; the
    reader parses the JSON lines written to stderr since the last read."""
    for name in config.LAMBDA_LEVEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "rds-maint-engine")
    monkeypatch.setattr(lambda_handler, "_cold_start", True)
    log.configure()

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]

    yield read
    for name in ("AWS_LAMBDA_FUNCTION_NAME", *config.LAMBDA_LEVEL_VARIABLES):  # a test may have set them
        monkeypatch.delenv(name, raising=False)
    log.configure()  # the local default again, for the tests that follow


def invocation_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if "action" in line and "outcome" in line]


def test_every_invocation_logs_one_line_in_powertools_keys(
    world: World, cluster_1w2r: list[str], lambda_logs: LogReader
) -> None:
    created = world.handler({"action": "create", "params": START}, FakeContext("req-1"))
    op_id = created["operation_id"]
    started = world.handler({"action": "start", "operation_id": op_id}, FakeContext("req-2"))
    stepped = world.handler({"action": "step", "operation_id": op_id}, FakeContext("req-3"))
    lines = lambda_logs()
    results = invocation_lines(lines)
    assert [line["function_request_id"] for line in results] == ["req-1", "req-2", "req-3"]
    assert [line["action"] for line in results] == ["create", "start", "step"]
    assert [line["outcome"] for line in results] == [r["outcome"] for r in (created, started, stepped)]
    assert all(line["operation_id"] == op_id for line in results)
    assert [line["cold_start"] for line in results] == [True, False, False], "only the container's first call"
    for line in results:
        assert line["level"] == "INFO" and line["service"] == "rds-maint"
        assert line["function_name"] == "rds-maint-engine" and line["function_memory_size"] == "512"
        assert line["function_arn"].endswith(":function:rds-maint-engine")
        assert datetime.fromisoformat(line["timestamp"]).utcoffset() == timedelta(0)
        assert line["message"].startswith(f"{line['action']} {op_id}: ")
        assert "event" not in line and "log_level" not in line
    # Whatever the engine logs during an invocation carries that invocation's keys too.
    assert all(line.get("function_request_id") in ("req-1", "req-2", "req-3") for line in lines)
    assert lines[-1]["function_request_id"] == "req-3"


def test_an_error_answer_logs_a_warning_and_a_crash_an_error(
    world: World, monkeypatch: pytest.MonkeyPatch, lambda_logs: LogReader
) -> None:
    refused = world.handler({"action": "stepp", "operation_id": "orders-1"}, FakeContext("req-1"))
    [line] = invocation_lines(lambda_logs())
    assert line["level"] == "WARNING" and line["outcome"] == "failed" and line["operation_id"] == "orders-1"
    assert line["error"] == refused["error"] and "unknown action 'stepp'" in line["error"]

    def broken(settings: Settings) -> Engine:
        raise RuntimeError("store client could not be built")

    with pytest.raises(RuntimeError):
        lambda_handler.make_handler(broken)({"action": "status", "operation_id": "orders-1"}, FakeContext("req-2"))
    [crash] = invocation_lines(lambda_logs())
    assert crash["level"] == "ERROR" and crash["outcome"] == "crashed" and crash["operation_id"] == "orders-1"
    assert crash["function_request_id"] == "req-2" and crash["cold_start"] is False
    assert "RuntimeError: store client could not be built" in crash["exception"]


@pytest.mark.parametrize(
    ("variables", "shown"),
    [
        ({}, {"INFO", "WARNING"}),
        ({"LOG_LEVEL": "WARNING"}, {"WARNING"}),
        ({"POWERTOOLS_LOG_LEVEL": "error"}, set()),
        ({"AWS_LAMBDA_LOG_LEVEL": "DEBUG", "LOG_LEVEL": "ERROR"}, {"INFO", "WARNING"}),  # Lambda's controls win
        ({"AWS_LAMBDA_LOG_LEVEL": "WARN"}, {"WARNING"}),
        ({"LOG_LEVEL": "chatty"}, {"INFO", "WARNING"}),  # unknown: the Lambda default
    ],
)
def test_log_level_follows_lambda_and_powertools_variables(
    world: World,
    cluster_1w2r: list[str],
    monkeypatch: pytest.MonkeyPatch,
    lambda_logs: LogReader,
    variables: dict[str, str],
    shown: set[str],
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    log.configure()
    world.handler({"action": "create", "params": START}, FakeContext("req-1"))  # INFO
    world.handler({"action": "stepp"}, FakeContext("req-2"))  # WARNING
    assert {line["level"] for line in invocation_lines(lambda_logs())} == shown
