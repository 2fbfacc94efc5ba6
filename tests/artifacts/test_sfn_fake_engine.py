"""The state machine run in moto's Step Functions interpreter against a scripted stand-in for the engine Lambda,
for routing that the real engine cannot easily be made to produce (rejected answers, lost write
races, rollback and mark_complete answers, a taken hand-off name, bad start input, engine errors).
tests/scenarios/test_sfn_execution.py runs the same ASL against the real engine on the simulated Aurora.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from sfn_harness.machine import shim_moto_sfn_integration
from tests.helpers.artifacts import (
    FAKE_LAMBDA_ARN,
    FAKE_ROLE_ARN,
    LAMBDA_PLACEHOLDER,
    REGION,
    JsonDict,
    asl,
)
from tests.helpers.sfn_fake_engine import (
    FakeCrash,
    FakeEngine,
    Machine,
    MachineFactory,
    entered,
    notify_state_name,
)


@pytest.fixture
def machine_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[MachineFactory]:
    """Build the machine in moto's interpreter; engine calls go to a FakeEngine.

    Timings shrink so the tests are fast: the fixed 5 s Wait becomes 1 s. The routing is what is
    under test (tests/scenarios/test_sfn_execution.py runs the ASL unchanged against the real engine).
    """
    moto: Any = pytest.importorskip("moto")
    boto3: Any = pytest.importorskip("boto3")
    try:
        lambda_eval_utils: Any = importlib.import_module(
            "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils"
        )
    except ImportError:
        pytest.skip("this moto has no Step Functions interpreter (moto.stepfunctions.parser)")
    if not hasattr(lambda_eval_utils, "_invoke_lambda_function"):
        pytest.skip("moto's Step Functions interpreter changed: no _invoke_lambda_function hook to fake the Lambda")
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    engine = FakeEngine()

    def fake_invoke(parameters: JsonDict, region: str, state_credentials: Any) -> JsonDict:
        assert parameters["FunctionName"] == FAKE_LAMBDA_ARN
        raw: Any = parameters.get("Payload")
        event: JsonDict = json.loads(raw) if isinstance(raw, bytes | str) else raw
        try:
            payload = engine.handle(event)
        except FakeCrash as exc:
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": {"errorType": "FakeCrash", "errorMessage": str(exc)},
            }
        return {"StatusCode": 200, "Payload": payload}

    monkeypatch.setattr(lambda_eval_utils, "_invoke_lambda_function", fake_invoke)
    handoff_supported = shim_moto_sfn_integration(monkeypatch)
    machines: list[Machine] = []
    with moto.mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):

        def build() -> Machine:
            definition = asl()
            for state in definition["States"].values():
                if state["Type"] == "Wait" and "Seconds" in state:
                    state["Seconds"] = 1
            text = json.dumps(definition).replace(LAMBDA_PLACEHOLDER, FAKE_LAMBDA_ARN)
            client = boto3.client("stepfunctions", region_name=REGION)
            arn = client.create_state_machine(name="rds-maint-machine", definition=text, roleArn=FAKE_ROLE_ARN)[
                "stateMachineArn"
            ]
            machine = Machine(client, engine, arn, handoff_supported)
            machines.append(machine)
            return machine

        yield build
        for machine in machines:
            listed: Any = machine.client.list_executions(stateMachineArn=machine.arn, statusFilter="RUNNING")
            for execution in listed["executions"]:
                machine.client.stop_execution(executionArn=execution["executionArn"])


NEW_OPERATION = {
    "params": {
        "type": "instance_type_change",
        "cluster_id": "orders-prod",
        "region": REGION,
        "params": {"target_instance_type": "db.r6g.xlarge"},
    }
}


@pytest.mark.parametrize(
    ("answer", "status", "error", "final_state"),
    [
        ({"action": "mark_complete"}, "SUCCEEDED", None, "completed"),
        ({"action": "rollback", "comment": "lag"}, "FAILED", "OperationRolledBack", "rolled_back"),
        ({"action": "abort"}, "FAILED", "OperationAborted", "failed"),
    ],
)
def test_execution_ends_as_the_operator_answered(
    machine_factory: MachineFactory, answer: JsonDict, status: str, error: str | None, final_state: str
) -> None:
    machine = machine_factory()
    machine.engine.script = ["intervention"]
    arn = machine.start(NEW_OPERATION)
    token = machine.wait_for_notice(arn)["Detail"]["task_token"]
    machine.client.send_task_success(taskToken=token, output=json.dumps(answer))
    done = machine.wait_done(arn)
    assert done["status"] == status, done
    assert done.get("error") == error
    assert machine.engine.ops["orders-prod-1"].state == final_state
    sent = [c["params"]["action"] for c in machine.engine.calls if c["action"] == "resume"]
    assert sent == [answer["action"]]
    if final_state in ("failed", "rolled_back"):
        assert machine.engine.actions()[-2:] == ["step", "step"], "clean-up steps run before the end"
        assert "fail" not in machine.engine.actions(), "a final operation needs no failure record"


def test_execution_asks_again_after_a_rejected_answer(machine_factory: MachineFactory) -> None:
    machine = machine_factory()
    machine.engine.script = ["intervention", "completed"]
    arn = machine.start(NEW_OPERATION)
    first = machine.wait_for_notice(arn)["Detail"]
    assert first["notice"] == 1 and first["previous_answer_error"] is None
    machine.client.send_task_success(taskToken=first["task_token"], output=json.dumps({"action": "bogus"}))
    second = machine.wait_for_notice(arn, number=2)["Detail"]
    assert second["notice"] == 2
    assert "unknown resume action" in second["previous_answer_error"]
    assert second["task_token"] != first["task_token"]
    machine.client.send_task_success(taskToken=second["task_token"], output=json.dumps({"action": "continue"}))
    done = machine.wait_done(arn)
    assert done["status"] == "SUCCEEDED", done
    history = machine.history(arn)
    notices = entered(history, notify_state_name())
    polls_budget = 3 * 11
    assert notices[1] - notices[0] <= polls_budget, "a notice round trip must fit the 3 iterations it counts"


@pytest.mark.parametrize("reply", [{}, None, "continue", [], {"comment": "no action"}, {"action": 7}])
@pytest.mark.parametrize("engine_refuses", [True, False], ids=["engine-refuses", "engine-ignores"])
def test_execution_asks_again_after_an_empty_or_odd_reply(
    machine_factory: MachineFactory, reply: Any, engine_refuses: bool
) -> None:
    """send-task-success takes any JSON: the machine must never fail on a reply without an action,
    whether the engine refuses it with an error or answers it without one."""
    machine = machine_factory()
    machine.engine.script = ["intervention", "completed"]
    machine.engine.ignore_bad_answers = not engine_refuses
    arn = machine.start(NEW_OPERATION)
    first = machine.wait_for_notice(arn)["Detail"]
    machine.client.send_task_success(taskToken=first["task_token"], output=json.dumps(reply))
    second = machine.wait_for_notice(arn, number=2)["Detail"]
    assert second["notice"] == 2
    if engine_refuses:
        assert second["previous_answer_error"], "the next notice says why the reply was refused"
    assert machine.engine.ops["orders-prod-1"].state == "paused"
    machine.client.send_task_success(taskToken=second["task_token"], output=json.dumps({"action": "continue"}))
    done = machine.wait_done(arn)
    assert done["status"] == "SUCCEEDED", done


def test_execution_hands_off_to_a_fresh_execution(machine_factory: MachineFactory) -> None:
    machine = machine_factory()
    if not machine.handoff_supported:
        pytest.skip("moto's states:startExecution integration cannot be shimmed in this moto version")
    machine.engine.script = ["continue"] * 4 + ["completed"]
    # A closed execution already holds the first hand-off name: the machine must take the next one.
    taken = machine.start({"nonsense": True}, name="orders-prod-1-1")
    assert machine.wait_done(taken)["error"] == "BadStartInput"
    parent = machine.start({**NEW_OPERATION, "max_iterations": 2})
    done = machine.wait_done(parent)
    assert done["status"] == "SUCCEEDED", done
    child_arn = json.loads(done["output"])["execution_arn"]
    assert child_arn.endswith(":orders-prod-1-2")
    child = machine.wait_done(child_arn)
    assert child["status"] == "SUCCEEDED", child
    child_input = json.loads(child["input"])
    assert child_input["operation_id"] == "orders-prod-1"
    assert child_input["cluster_id"] == "orders-prod"
    grandchild_arn = json.loads(child["output"])["execution_arn"]
    assert grandchild_arn.endswith(":orders-prod-1-3")
    grandchild = machine.wait_done(grandchild_arn)
    assert grandchild["status"] == "SUCCEEDED", grandchild
    assert json.loads(grandchild["output"])["operation_state"] == "completed"
    assert machine.engine.actions().count("create") == 1
    assert machine.engine.actions().count("status") == 2, "each fresh execution reads the operation first"


@pytest.mark.parametrize(
    ("state", "status", "error", "first_calls"),
    [
        ("completed", "SUCCEEDED", None, ["status"]),
        ("failed", "FAILED", "OperationFailed", ["status"]),
        ("rolled_back", "FAILED", "OperationRolledBack", ["status"]),
        ("running", "SUCCEEDED", None, ["status", "step"]),
    ],
)
def test_execution_resumes_an_existing_operation(
    machine_factory: MachineFactory, state: str, status: str, error: str | None, first_calls: list[str]
) -> None:
    machine = machine_factory()
    op = machine.engine.seed(state, ["completed"])
    done = machine.wait_done(machine.start({"operation_id": op.id}))
    assert done["status"] == status, done
    assert done.get("error") == error
    assert machine.engine.actions() == first_calls


def test_a_new_operation_on_a_db_instance_keeps_its_instance_id_through_notices_and_hand_offs(
    machine_factory: MachineFactory,
) -> None:
    """A request names instance_id and no cluster_id: no JSONPath may miss the absent key, the notice names the
    instance, and a fresh execution started for the hand-off carries it on."""
    machine = machine_factory()
    machine.engine.script = ["intervention"]
    request = {
        "params": {
            "type": "instance_cycle",
            "instance_id": "orders-db",
            "region": REGION,
            "params": {},
        }
    }
    arn = machine.start(request)
    detail = machine.wait_for_notice(arn)["Detail"]
    assert (detail["cluster_id"], detail["instance_id"], detail["target"]) == (None, "orders-db", "instance orders-db")
    machine.client.send_task_success(taskToken=detail["task_token"], output=json.dumps({"action": "mark_complete"}))
    done = machine.wait_done(arn)
    assert done["status"] == "SUCCEEDED", done
    assert machine.engine.ops["orders-db-1"].state == "completed"


def test_a_notice_for_a_cluster_names_the_cluster(machine_factory: MachineFactory) -> None:
    machine = machine_factory()
    machine.engine.script = ["intervention"]
    arn = machine.start(NEW_OPERATION)
    detail = machine.wait_for_notice(arn)["Detail"]
    assert (detail["cluster_id"], detail["instance_id"], detail["target"]) == (
        "orders-prod",
        None,
        "cluster orders-prod",
    )
    machine.client.send_task_failure(taskToken=detail["task_token"], error="OperationAborted")
    assert machine.wait_done(arn)["error"] == "OperationAborted"


def test_a_start_input_with_an_instance_id_that_is_not_a_string_is_refused(machine_factory: MachineFactory) -> None:
    machine = machine_factory()
    done = machine.wait_done(machine.start({"operation_id": "orders-db-1", "instance_id": 3}))
    assert done["error"] == "BadStartInput"
    assert machine.engine.actions() == []


def test_execution_resume_without_cluster_id_still_notifies(machine_factory: MachineFactory) -> None:
    machine = machine_factory()
    op = machine.engine.seed("paused")
    arn = machine.start({"operation_id": op.id})
    detail = machine.wait_for_notice(arn)["Detail"]
    assert detail["cluster_id"] is None
    machine.client.send_task_failure(taskToken=detail["task_token"], error="OperationAborted")
    assert machine.wait_done(arn)["error"] == "OperationAborted"


@pytest.mark.parametrize(
    ("outcome", "error"),
    [("error", "EngineError"), ("raise", "FakeCrash")],
)
def test_execution_records_the_error_before_failing(machine_factory: MachineFactory, outcome: str, error: str) -> None:
    machine = machine_factory()
    machine.engine.script = ["continue", outcome]
    done = machine.wait_done(machine.start(NEW_OPERATION))
    assert done["status"] == "FAILED", done
    assert done["error"] == error
    assert machine.engine.actions()[-1] == "fail"
    op = machine.engine.ops["orders-prod-1"]
    assert op.state == "paused", "the store must not say running for a dead execution"
    assert op.failures[0]["error"] == error
    assert error in op.failures[0]["cause"]


def test_execution_reads_again_after_a_lost_write_race(machine_factory: MachineFactory) -> None:
    machine = machine_factory()
    machine.engine.script = ["conflict", "completed"]
    done = machine.wait_done(machine.start(NEW_OPERATION))
    assert done["status"] == "SUCCEEDED", done
    assert machine.engine.actions() == ["create", "start", "step", "poll"]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"operation_id": 7},
        {"operation_id": "orders-prod-1", "max_iterations": 0},
        {"operation_id": "orders-prod-1", "max_iterations": 5000},
        {"operation_id": "orders-prod-1", "max_iterations": "many"},
        {"operation_id": "orders-prod-1", "cluster_id": 3},
    ],
)
def test_execution_refuses_bad_start_input(machine_factory: MachineFactory, payload: JsonDict) -> None:
    machine = machine_factory()
    done = machine.wait_done(machine.start(payload))
    assert done["status"] == "FAILED"
    assert done["error"] == "BadStartInput"
    assert machine.engine.actions() == []


def test_execution_fails_cleanly_when_create_is_rejected(machine_factory: MachineFactory) -> None:
    machine = machine_factory()
    bad = {"params": {**NEW_OPERATION["params"], "type": "resize_everything"}}
    done = machine.wait_done(machine.start(bad))
    assert done["status"] == "FAILED"
    assert done["error"] == "CreateRejected"
    assert "unknown operation type" in done["cause"]
    assert machine.engine.actions() == ["create"]
