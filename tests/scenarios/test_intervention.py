"""Status events, the engine's listener hook, answers and tokens, and the Lambda's answers to every action."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
import pytest
from structlog.testing import capture_logs

from rds_maint import log
from rds_maint.errors import BadInput
from rds_maint.intervention import (
    SOURCE,
    STATUS_DETAIL_TYPE,
    Answer,
    StatusPublisher,
    mask_token,
    pending_intervention,
    status_entries,
    validate_answer,
)
from rds_maint.model import Event, Operation, OperationState, Outcome, ResumeAction
from tests.helpers.contract import CONTRACT_KEYS
from tests.helpers.world import CLUSTER, REGION, World

START = {
    "type": "instance_type_change",
    "cluster_id": CLUSTER,
    "region": REGION,
    "params": {"target_instance_type": "db.r6g.xlarge"},
}


class Recorder:
    """An engine listener that keeps what it was told."""

    def __init__(self) -> None:
        self.saves: list[tuple[Operation, list[Event]]] = []

    def __call__(self, op: Operation, events: Sequence[Event]) -> None:
        self.saves.append((op, list(events)))

    def types(self) -> list[str]:
        return [e.type for _, events in self.saves for e in events]


def test_listeners_hear_every_save_and_failovers_are_announced_before_the_call(
    world: World, cluster_1w2r: list[str]
) -> None:
    heard = Recorder()
    world.engine.listeners.append(heard)
    op = world.create({"target_instance_type": "db.r6g.xlarge"})
    world.engine.start(op.id)
    failovers_when_announced = []
    for _ in range(500):
        result = world.engine.advance(op.id)
        last_types = [e.type for e in heard.saves[-1][1]]
        if "disruption_starting" in last_types:
            failovers_when_announced.append(len(world.sim.successful_calls("FailoverDBCluster")))
        if result.outcome is Outcome.COMPLETED:
            break
        world.clock.sleep(result.wait_seconds)
    assert heard.types()[:2] == ["operation_created", "operation_started"]
    assert heard.types()[-1] == "operation_completed"
    assert failovers_when_announced == [0, 1], "each failover is announced in a save of its own, before its call"
    assert heard.types().count("disruption_finished") == 2
    saved_versions = [op.version for op, _ in heard.saves]
    assert saved_versions == sorted(saved_versions), "listeners get the operation as saved"


def test_a_failing_listener_never_fails_the_step(world: World, cluster_1w2r: list[str]) -> None:
    def broken(op: Operation, events: Sequence[Event]) -> None:
        raise RuntimeError("chat webhook down")

    world.engine.listeners.append(broken)
    op = world.create({"target_instance_type": "db.r6g.xlarge"})
    with capture_logs() as logs:
        assert world.run(op.id).outcome is Outcome.COMPLETED
    assert any(entry["event"] == "listener_failed" and entry["log_level"] == "warning" for entry in logs)


def test_status_publisher_sends_short_events_and_only_logs_failures(world: World, cluster_1w2r: list[str]) -> None:
    events_client: Any = boto3.client("events", region_name=REGION)
    sent: list[dict[str, Any]] = []

    class Client:
        def put_events(self, Entries: list[dict[str, Any]]) -> Any:
            sent.extend(Entries)
            return events_client.put_events(Entries=Entries)

    world.engine.listeners.append(StatusPublisher(client_factory=Client))
    op = world.create({"target_instance_type": "db.r6g.xlarge"})
    assert world.run(op.id).outcome is Outcome.COMPLETED
    details = [json.loads(e["Detail"]) for e in sent]
    assert {e["Source"] for e in sent} == {SOURCE} and {e["DetailType"] for e in sent} == {STATUS_DETAIL_TYPE}
    assert [d["event"] for d in details][:2] == ["operation_created", "operation_started"]
    assert all(len(e["Detail"]) < 2048 and "steps" not in json.loads(e["Detail"]) for e in sent)
    assert {d["operation_id"] for d in details} == {op.id}

    def no_events_service() -> Any:
        raise ConnectionError("EventBridge unreachable")

    world.engine.listeners[:] = [StatusPublisher(client_factory=no_events_service)]
    second = world.create({"target_instance_type": "db.r6g.2xlarge"})
    with capture_logs() as logs:
        assert world.run(second.id).outcome is Outcome.COMPLETED, "publishing failures never fail a step"
    assert any(e["event"] == "status_events_unpublished" and e["log_level"] == "warning" for e in logs)
    assert not [e for e in logs if e["log_level"] in ("error", "critical")]


def test_status_entries_are_batched_by_ten_and_skip_chatter(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": "db.r6g.xlarge"})
    many = [world.engine.store.events(op.id)[0]] * 23
    entries = status_entries(op, many)
    assert len(entries) == 23
    calls: list[int] = []

    class Client:
        def put_events(self, Entries: list[dict[str, Any]]) -> Any:
            calls.append(len(Entries))
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}

    with capture_logs() as logs:
        StatusPublisher(client_factory=Client)(op, many)
    assert calls == [10, 10, 3]
    assert any(e["event"] == "status_events_rejected" for e in logs)
    chatter = [e.model_copy(update={"type": "step_waiting"}) for e in many[:3]]
    assert status_entries(op, chatter) == []


@pytest.fixture
def info_logs() -> Iterator[None]:
    """Log at INFO, as the Lambda does (locally the default is WARNING)."""
    log.configure(level="INFO")
    yield
    log.configure()


def test_expected_busy_errors_are_logged_at_info(world: World, cluster_1w2r: list[str], info_logs: None) -> None:
    world.sim.faults.fail("ModifyDBInstance", "InvalidDBInstanceState", "Instance is not available", times=2)
    op = world.create({"target_instance_type": "db.r6g.xlarge"})
    with capture_logs() as logs:
        assert world.run(op.id).outcome is Outcome.COMPLETED
    busy = [e for e in logs if e["event"] == "aws_busy"]
    assert len(busy) == 2 and {e["log_level"] for e in busy} == {"info"}
    assert not [e for e in logs if e["log_level"] in ("error", "critical")]


def test_answers_are_validated_and_tokens_masked(world: World, cluster_1w2r: list[str]) -> None:
    answer = validate_answer("rollback", "lag")
    assert answer.action is ResumeAction.ROLLBACK and json.loads(answer.task_output()) == {
        "action": "rollback",
        "comment": "lag",
    }
    # an abort goes as task output too, so that it says who answered (the machine aborts on it)
    assert json.loads(Answer(ResumeAction.ABORT, "window closed", "alice@bastion").task_output()) == {
        "action": "abort",
        "comment": "window closed",
        "actor": "alice@bastion",
    }
    for bad, message in ((("carry_on",), "--action must be one of"), (("continue", "x" * 1001), "--comment is 1001")):
        with pytest.raises(BadInput, match=message):
            validate_answer(*bad)
    token = "AQB8AAAAKgAAAAMAAAAA" + "z" * 300 + "tail42"
    assert mask_token(token) == "****tail42 (326 chars)" and mask_token("short") == "****"

    op = world.create({"target_instance_type": "db.r6g.xlarge"}, pause_before_steps=["failback"])
    with pytest.raises(BadInput, match="is created: no intervention is pending"):
        pending_intervention(op)
    world.run(op.id)
    with pytest.raises(BadInput, match="is paused but no Step Functions execution has recorded a task token"):
        pending_intervention(world.store.load(op.id))


def test_record_intervention_takes_what_the_rule_sends_and_ignores_a_repeat(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = world.create({"target_instance_type": "db.r6g.xlarge"}, pause_before_steps=["failback"])
    world.run(op.id)
    arn = "arn:aws:states:us-east-1:123456789012:execution:rds-maint-machine:run-1"
    event = {
        "action": "record_intervention",
        "operation_id": op.id,
        "params": {"task_token": "t" * 900, "step_name": "failback", "step_index": 6, "execution_arn": arn},
    }
    first = world.handler(event, None)
    assert set(first) == CONTRACT_KEYS and first["needs_intervention"] is True and first["error"] is None
    world.handler(event, None)  # EventBridge delivers at least once
    stored = world.store.load(op.id).intervention
    assert stored is not None and stored.execution_arn == arn and stored.notifications == 1
    assert stored.step_name == "failback" and stored.step_index == 6
    with capture_logs() as logs:
        world.handler(event, None)
    assert "t" * 900 not in json.dumps(logs, default=str), "the token stays out of the logs"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"action": "launch"}, "unknown action 'launch'"),
        ({"action": "create", "params": {"type": "instance_type_change"}}, "a target is required: cluster_id"),
        ({"action": "start"}, "action 'start' needs operation_id"),
        ({"action": "step", "operation_id": "nope-1"}, "operation 'nope-1' not found"),
        ({"action": "poll", "operation_id": 7}, "operation_id must be a string"),
        ({"action": "status", "operation_id": "../etc"}, "invalid operation id"),
        ({"action": "resume", "operation_id": "OP", "params": {"action": "go"}}, "unknown resume action 'go'"),
        ({"action": "record_intervention", "operation_id": "OP", "params": {"task_token": ""}}, "task_token must be"),
        ({"action": "record_intervention", "operation_id": "OP", "params": {"task_token": "t"}}, "is created"),
        ({"action": "fail", "operation_id": "nope-2", "params": {"error": "States.Timeout"}}, "not found"),
        ({"action": "step", "operation_id": "OP", "params": []}, "params must be an object"),
    ],
)
def test_every_action_answers_the_contract_shape_even_when_refused(
    world: World, cluster_1w2r: list[str], event: dict[str, Any], message: str
) -> None:
    op = world.create({"target_instance_type": "db.r6g.xlarge"})
    if event.get("operation_id") == "OP":
        event = {**event, "operation_id": op.id}
    result = world.handler(event, None)
    assert set(result) == CONTRACT_KEYS
    assert result["error"] is not None and message in result["error"], result["error"]
    assert result["failed"] is True and result["outcome"] == "failed"
    assert world.store.load(op.id).state is OperationState.CREATED
    assert world.mutating_calls() == []


@pytest.mark.parametrize(
    "action", ["create", "start", "step", "poll", "status", "resume", "record_intervention", "fail"]
)
def test_every_action_answers_the_contract_shape(world: World, cluster_1w2r: list[str], action: str) -> None:
    if action == "create":
        created = world.handler({"action": "create", "params": START}, None)
        assert set(created) == CONTRACT_KEYS and created["error"] is None
        assert created["operation_state"] == "created" and isinstance(created["operation_id"], str)
        return
    op_id = world.handler({"action": "create", "params": START}, None)["operation_id"]
    world.handler({"action": "start", "operation_id": op_id}, None)
    params: dict[str, Any] = {
        "resume": {"action": "continue"},
        "record_intervention": {"task_token": "tok"},
        "fail": {"error": "States.Timeout", "cause": "{}"},
    }.get(action, {})
    if action in ("resume", "record_intervention"):
        world.handler({"action": "fail", "operation_id": op_id, "params": {"error": "X"}}, None)  # pause it
    event: dict[str, Any] = {"action": action, "operation_id": op_id, "params": params}
    result = world.handler(event, None)
    assert set(result) == CONTRACT_KEYS and isinstance(result["wait_seconds"], int)
    assert result["error"] is None, result
    assert result["operation_id"] is not None and result["operation_state"] in {s.value for s in OperationState}
    flags = [result[k] for k in ("continue", "needs_wait", "needs_intervention", "completed", "failed")]
    assert flags.count(True) == 1


def test_a_failed_execution_leaves_a_never_started_operation_created(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": "db.r6g.xlarge"})
    result = world.handler(
        {"action": "fail", "operation_id": op.id, "params": {"error": "Lambda.ServiceException"}}, None
    )
    assert set(result) == CONTRACT_KEYS and result["error"] is None
    stored = world.store.load(op.id)
    assert stored.state is OperationState.CREATED, "not started: no lock taken, nothing to pause"
    assert any(e.type == "execution_failed" for e in world.store.events(op.id))
    assert world.run(op.id).outcome is Outcome.COMPLETED
