"""The state machine definition (sfn/rds-maint-machine.asl.json): its shape, its retries and timeouts,
the engine actions it sends, and that moto accepts it."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import pytest

from tests.helpers.artifacts import (
    ASL_PATH,
    DEFAULT_MAX_ITERATIONS,
    DETAIL_KEYS,
    ENGINE_ACTIONS,
    FAKE_LAMBDA_ARN,
    FAKE_ROLE_ARN,
    LAMBDA_DIED_ERRORS,
    LAMBDA_PLACEHOLDER,
    LAMBDA_RETRY_ERRORS,
    REGION,
    RESUME_ACTIONS,
    asl,
    asl_states,
    fail_recorder,
    field_value,
    is_terminal,
    lambda_payload,
    lambda_tasks,
    placeholders,
    reachable,
    template_resources,
    transitions,
)

# ------------------------------------------------------------------------------ ASL: shape


def test_asl_parses_and_uses_only_the_lambda_placeholder() -> None:
    text = ASL_PATH.read_text(encoding="utf-8")
    definition = json.loads(text)
    assert definition["StartAt"] in definition["States"]
    assert placeholders(text) == {"LambdaArn"}, "the template substitutes only ${LambdaArn}"


def test_every_transition_names_an_existing_state() -> None:
    states = asl_states()
    for name, state in states.items():
        for target in transitions(state):
            assert target in states, f"state {name} moves to unknown state {target!r}"


def test_every_state_is_reachable_from_start() -> None:
    states = asl_states()
    unreachable = set(states) - reachable(asl()["StartAt"], states)
    assert not unreachable, f"states never reached from StartAt: {sorted(unreachable)}"


def test_every_state_can_still_end() -> None:
    states = asl_states()
    for name in states:
        ends = [s for s in reachable(name, states) if is_terminal(states[s])]
        assert ends, f"no Succeed/Fail/End is reachable from {name}: an endless loop"


def test_choices_have_defaults_and_non_terminal_states_move_on() -> None:
    for name, state in asl_states().items():
        if state["Type"] == "Choice":
            assert "Default" in state, f"Choice {name} needs a Default (no match is a runtime error)"
        elif not is_terminal(state):
            assert "Next" in state, f"{name} neither ends nor has Next"


def test_lambda_tasks_are_invoked_one_way() -> None:
    tasks = lambda_tasks()
    assert len(tasks) >= 7
    assert {task["Resource"] for task in tasks.values()} == {LAMBDA_PLACEHOLDER}, (
        "every engine call invokes the Lambda ARN directly (result at $.result, no Payload wrapper)"
    )
    for name, task in tasks.items():
        assert task.get("ResultPath") in ("$.result", None), f"{name} must keep the state small"


@pytest.mark.parametrize("name", sorted(lambda_tasks()))
def test_lambda_task_retries_lambda_service_errors_with_full_jitter(name: str) -> None:
    retriers = lambda_tasks()[name].get("Retry", [])
    matching = [r for r in retriers if set(r["ErrorEquals"]) >= LAMBDA_RETRY_ERRORS]
    assert matching, f"{name} must retry {sorted(LAMBDA_RETRY_ERRORS)}"
    retrier = matching[0]
    assert retrier["JitterStrategy"] == "FULL"
    assert retrier["IntervalSeconds"] == 2
    assert retrier["BackoffRate"] == 2
    assert retrier["MaxAttempts"] == 6
    # One retrier for every "no answer": its 6 attempts are the history budget's bound
    # (tests/scenarios/test_sfn_execution.py: 800 iterations x (11 + 6 x 3) events).
    assert set(retrier["ErrorEquals"]) >= LAMBDA_DIED_ERRORS, f"{name} must retry a function that died"
    assert len(retriers) == 1, f"{name}: a second retrier would add attempts the loop count does not see"


def test_retriers_write_backoff_rate_as_a_float() -> None:
    """statelint (the ASL spec) types BackoffRate as a float: `2` is an error there, `2.0` is not."""
    text = ASL_PATH.read_text(encoding="utf-8")
    rates = re.findall(r'"BackoffRate":\s*([0-9.]+)', text)
    assert rates and all("." in rate for rate in rates), rates


def lambda_timeout_seconds() -> int:
    timeout: int = template_resources()["EngineFunction"]["Properties"]["Timeout"]
    return timeout


@pytest.mark.parametrize("name", sorted(lambda_tasks()))
def test_lambda_task_timeout_lets_the_function_time_out_first(name: str) -> None:
    """A task timeout shorter than the function's lets a retry run beside a live attempt; a much longer
    one leaves a lost invocation unnoticed. The function's own timeout must fire first, and soon after."""
    task_timeout = lambda_tasks()[name]["TimeoutSeconds"]
    assert lambda_timeout_seconds() < task_timeout <= lambda_timeout_seconds() + 60, name


def test_failures_are_recorded_on_the_operation_before_the_execution_fails() -> None:
    states = asl_states()
    recorder = fail_recorder()
    record = states[recorder]
    params = lambda_payload(record)["params"]
    assert field_value(params, "error") == "$.caught.Error"
    assert "$.caught" in str(field_value(params, "cause"))
    assert record.get("ResultPath") is None, "recording must not overwrite the caught error"
    for target in [record["Next"], *(c["Next"] for c in record["Catch"])]:
        assert states[target]["Type"] == "Fail"
    for name, state in states.items():
        if state["Type"] != "Task" or name == recorder:
            continue
        catch_all = [c for c in state.get("Catch", []) if c["ErrorEquals"] == ["States.ALL"]]
        assert catch_all, f"task {name} needs a Catch of States.ALL"
        assert catch_all[0]["Next"] == recorder, f"{name}: States.ALL must go to {recorder}"
        assert catch_all[0]["ResultPath"] == "$.caught"
        assert state["Catch"][-1] is catch_all[0], f"{name}: States.ALL must be the last catcher"


def test_machine_sends_only_engine_actions() -> None:
    sent = {lambda_payload(state)["action"] for state in lambda_tasks().values()}
    assert sent <= ENGINE_ACTIONS
    assert {"create", "start", "step", "poll", "status", "resume", "fail"} <= sent
    handler_module = importlib.import_module("rds_maint.lambda_handler")
    assert sent <= set(handler_module.ACTIONS), "the Lambda handler must know every action the machine sends"


def test_intervention_task_waits_for_a_token_and_tells_everything() -> None:
    states = asl_states()
    notify = [s for s in states.values() if s.get("Resource") == "arn:aws:states:::events:putEvents.waitForTaskToken"]
    assert len(notify) == 1
    task = notify[0]
    entries = task["Parameters"]["Entries"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["Source"] == "rds-maint-machine"
    assert entry["DetailType"] == "InterventionRequired"
    detail = entry["Detail"]
    keys = {key.removesuffix(".$") for key in detail}
    assert keys >= DETAIL_KEYS, f"detail lacks {sorted(DETAIL_KEYS - keys)}"
    assert detail["task_token.$"] == "$$.Task.Token"
    assert detail["allowed_actions"] == RESUME_ACTIONS
    assert task["TimeoutSecondsPath"] == "$.intervention_timeout", "configurable through the start input"
    assert states[asl()["StartAt"]]["Result"]["intervention_timeout"] == 86400, "a day by default"
    assert "HeartbeatSeconds" not in task and "TimeoutSeconds" not in task


def test_intervention_timeout_notifies_again_and_abort_failure_resumes_with_abort() -> None:
    states = asl_states()
    name, task = next(
        (n, s) for n, s in states.items() if s.get("Resource", "").startswith("arn:aws:states:::events:putEvents")
    )
    catchers = {tuple(c["ErrorEquals"]): c for c in task["Catch"]}
    timeout = catchers[("States.Timeout",)]
    path = reachable(timeout["Next"], states, stop=lambda s: s == name or states[s]["Type"] == "Fail")
    assert name in path, "a timed-out notice must loop back to a new notice, not fail"
    aborted = catchers[("OperationAborted",)]
    abort_state = states[aborted["Next"]]
    assert abort_state["Type"] == "Pass"
    assert abort_state["Result"]["action"] == "abort"
    assert lambda_payload(states[abort_state["Next"]])["action"] == "resume"
    answer = states[task["Next"]]
    assert lambda_payload(answer)["action"] == "resume"
    assert field_value(lambda_payload(answer), "params") == task["ResultPath"]


def test_waits_use_the_engine_wait_seconds() -> None:
    waits = [s for s in asl_states().values() if s["Type"] == "Wait"]
    assert any(w.get("SecondsPath") == "$.result.wait_seconds" for w in waits)
    for wait in waits:
        nxt = asl_states()[wait["Next"]]
        following = nxt if nxt["Type"] == "Task" else asl_states()[nxt["Next"]]
        assert lambda_payload(following)["action"] == "poll", "a Wait is followed by a poll"


def test_loop_counts_iterations_and_hands_off_to_a_fresh_execution() -> None:
    states = asl_states()
    counters = [s for s in states.values() if s["Type"] == "Pass" and "States.MathAdd($.loop.count" in json.dumps(s)]
    assert counters, "loop iterations must be counted in $.loop.count"
    budget_rules = [
        (name, rule)
        for name, s in states.items()
        for rule in s.get("Choices", [])
        if rule.get("Variable") == "$.loop.count" and rule.get("NumericGreaterThanEqualsPath") == "$.max_iterations"
    ]
    assert budget_rules, "a Choice must compare $.loop.count with $.max_iterations"
    handoffs = {n: s for n, s in states.items() if s.get("Resource") == "arn:aws:states:::states:startExecution"}
    assert len(handoffs) == 1
    (handoff_name, handoff), (_, rule) = next(iter(handoffs.items())), budget_rules[0]
    assert handoff_name in reachable(rule["Next"], states)
    params = handoff["Parameters"]
    assert params["StateMachineArn.$"] == "$$.StateMachine.Id"
    assert params["Name.$"].startswith("States.Format('{}-{}', $.operation_id,")
    assert params["Input"]["operation_id.$"] == "$.operation_id"
    assert states[handoff["Next"]]["Type"] == "Succeed"
    exists = [c for c in handoff["Catch"] if c["ErrorEquals"] == ["StepFunctions.ExecutionAlreadyExistsException"]]
    assert exists and handoff_name in reachable(exists[0]["Next"], states), "a taken name must be retried as n+1"
    defaults = states[asl()["StartAt"]]
    assert defaults["Result"]["max_iterations"] == DEFAULT_MAX_ITERATIONS


def test_definition_is_accepted_by_moto() -> None:
    moto: Any = pytest.importorskip("moto")
    boto3: Any = pytest.importorskip("boto3")
    definition = ASL_PATH.read_text(encoding="utf-8").replace(LAMBDA_PLACEHOLDER, FAKE_LAMBDA_ARN)
    try:
        parser: Any = importlib.import_module("moto.stepfunctions.parser.asl.parse.asl_parser")
    except ImportError:  # pragma: no cover - older moto
        parser = None
    if parser is not None:
        parser.AmazonStateLanguageParser.parse(definition)
    with moto.mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions", region_name=REGION)
        arn = client.create_state_machine(name="rds-maint-machine", definition=definition, roleArn=FAKE_ROLE_ARN)[
            "stateMachineArn"
        ]
        assert json.loads(client.describe_state_machine(stateMachineArn=arn)["definition"])["StartAt"]
