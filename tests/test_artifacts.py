"""The deployment artefacts stay deployable and agree with each other.

Static checks read sfn/, iam/, examples/ and cmd/. The execution tests here run the state
machine in moto's Step Functions interpreter against a scripted stand-in for the engine Lambda,
for routing that the real engine cannot easily be made to produce (rejected answers, lost write
races, rollback and mark_complete answers, a taken hand-off name, bad start input, engine errors).
tests/test_sfn_execution.py runs the same ASL against the real engine on the simulated Aurora.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from sfn_harness.machine import execution_history, load_template, shim_moto_sfn_integration
from tests.test_bad_input import CONTRACT_KEYS

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.client import SFNClient

ROOT = Path(__file__).resolve().parents[1]
ASL_PATH = ROOT / "sfn" / "rds-maint-machine.asl.json"
TEMPLATE_PATH = ROOT / "sfn" / "template.yaml"
IAM_DIR = ROOT / "iam"
EXAMPLES_DIR = ROOT / "examples"
CMD_DIR = ROOT / "cmd"

LAMBDA_PLACEHOLDER = "${LambdaArn}"
FAKE_LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:rds-maint-engine"
FAKE_ROLE_ARN = "arn:aws:iam::123456789012:role/rds-maint-machine"
REGION = "us-east-1"

OPERATION_TYPES = {"instance_type_change", "storage_type_change", "engine_upgrade", "instance_cycle"}
ENGINE_ACTIONS = {"create", "start", "step", "poll", "status", "resume", "record_intervention", "fail"}
LAMBDA_RETRY_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
}
# A function that died (timeout, out of memory) gives no answer either; re-running a step is safe.
LAMBDA_DIED_ERRORS = {"Lambda.Unknown", "Sandbox.Timedout", "States.Timeout"}
DETAIL_KEYS = {
    "operation_id",
    "task_token",
    "pause_reason",
    "step_name",
    "step_index",
    "cluster_id",
    "allowed_actions",
}
RESUME_ACTIONS = ["continue", "abort", "rollback", "mark_complete"]
RESULT_KEYS = CONTRACT_KEYS  # DESIGN section 4: every key, always
DEFAULT_MAX_ITERATIONS = 800
IAM_FILES = ["lambda-policy.json", "state-machine-policy.json", "operator-policy.json"]

JsonDict = dict[str, Any]


# ------------------------------------------------------------------------------ helpers


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def asl() -> JsonDict:
    definition: JsonDict = load_json(ASL_PATH)
    return definition


def asl_states() -> dict[str, JsonDict]:
    states: dict[str, JsonDict] = asl()["States"]
    return states


def transitions(state: JsonDict) -> list[str]:
    """Every state name this state can move to (Next, Default, Choice rules, Catch)."""
    targets: list[str] = []
    if "Next" in state:
        targets.append(state["Next"])
    if "Default" in state:
        targets.append(state["Default"])
    targets.extend(rule["Next"] for rule in state.get("Choices", []))
    targets.extend(catcher["Next"] for catcher in state.get("Catch", []))
    return targets


def is_terminal(state: JsonDict) -> bool:
    return state["Type"] in ("Succeed", "Fail") or state.get("End") is True


def reachable(start: str, states: dict[str, JsonDict], stop: Callable[[str], bool] | None = None) -> set[str]:
    """States reachable from `start`; the walk does not go past states for which `stop` is true."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if stop is not None and name != start and stop(name):
            continue
        todo.extend(transitions(states[name]))
    return seen


def is_lambda_task(state: JsonDict) -> bool:
    resource = str(state.get("Resource", ""))
    return state["Type"] == "Task" and (
        resource == LAMBDA_PLACEHOLDER or resource.startswith("arn:aws:states:::lambda:invoke")
    )


def lambda_payload(state: JsonDict) -> JsonDict:
    params: JsonDict = state.get("Parameters", {})
    payload: JsonDict = params.get("Payload", params)
    return payload


def lambda_tasks() -> dict[str, JsonDict]:
    return {name: state for name, state in asl_states().items() if is_lambda_task(state)}


def fail_recorder() -> str:
    names = [name for name, state in lambda_tasks().items() if lambda_payload(state).get("action") == "fail"]
    assert len(names) == 1, f"expected exactly one task sending action 'fail', found {names}"
    return names[0]


def field_value(params: JsonDict, key: str) -> Any:
    """A Parameters field, static (`key`) or dynamic (`key.$`)."""
    if key in params:
        return params[key]
    return params.get(key + ".$")


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z0-9_:]+)\}", text))


def statements(policy: JsonDict) -> list[JsonDict]:
    raw = policy["Statement"]
    items: list[JsonDict] = raw if isinstance(raw, list) else [raw]
    return items


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def load_yaml_template() -> JsonDict:
    """sfn/template.yaml with CloudFormation short tags turned into their long form."""
    pytest.importorskip("yaml")
    return load_template(TEMPLATE_PATH)


TEMPLATE_TO_IAM_PLACEHOLDERS = {
    "${AWS::Partition}": "${Partition}",
    "${AWS::Region}": "${Region}",
    "${AWS::AccountId}": "${AccountId}",
    "${AWS::StackName}-engine": "${FunctionName}",
    "${AWS::StackName}-machine": "${StateMachineName}",
    "${StateTable}": "${TableName}",
}


def normalise_template_value(value: Any) -> Any:
    """Template intrinsics -> the iam/ files' placeholder strings, so the two compare equal."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            text: str = value["Fn::Sub"]
            for template_name, iam_name in TEMPLATE_TO_IAM_PLACEHOLDERS.items():
                text = text.replace(template_name, iam_name)
            return text
        if set(value) == {"Ref"} and value["Ref"] == "StateMachine":
            return "arn:${Partition}:states:${Region}:${AccountId}:stateMachine:${StateMachineName}"
        if set(value) == {"Fn::If"}:
            # Conditional statements (the DynamoDB store) are compared in their "true" form.
            return normalise_template_value(value["Fn::If"][1])
        return {key: normalise_template_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise_template_value(item) for item in value]
    return value


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
    # (tests/test_sfn_execution.py: 800 iterations x (11 + 6 x 3) events).
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


# ------------------------------------------------------------------------------ IAM


def iam_policy(name: str) -> JsonDict:
    policy: JsonDict = load_json(IAM_DIR / name)
    return policy


def documented_placeholders() -> set[str]:
    readme = (IAM_DIR / "README.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `\$\{([A-Za-z]+)\}` \|", readme, flags=re.MULTILINE))


def policy_actions(policy: JsonDict) -> set[str]:
    return {action for statement in statements(policy) for action in as_list(statement.get("Action", []))}


@pytest.mark.parametrize("name", [*IAM_FILES, "opt-in-policy.json"])
def test_iam_file_is_a_policy_document_without_wildcard_actions(name: str) -> None:
    policy = iam_policy(name)
    assert policy["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in statements(policy)]
    assert len(sids) == len(set(sids)), "Sids must be unique"
    for statement in statements(policy):
        assert statement["Effect"] in ("Allow", "Deny")
        assert "NotAction" not in statement
        # NotResource only narrows a Deny: an Allow with NotResource would grant everything else
        assert "NotResource" not in statement or statement["Effect"] == "Deny"
        for action in as_list(statement["Action"]):
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action), f"{name}: wildcard or bad action {action!r}"


@pytest.mark.parametrize("name", [*IAM_FILES, "opt-in-policy.json"])
def test_iam_placeholders_are_documented_and_substitute_to_arns(name: str) -> None:
    text = (IAM_DIR / name).read_text(encoding="utf-8")
    used = placeholders(text)
    assert used <= documented_placeholders(), f"undocumented placeholders: {sorted(used - documented_placeholders())}"
    values = {
        "Partition": "aws",
        "Region": REGION,
        "AccountId": "123456789012",
        "StateBucket": "rds-maint-state",
        "StatePrefix": "rds-maint",
        "TableName": "rds-maint-operations",
        "FunctionName": "rds-maint-engine",
        "StateMachineName": "rds-maint-machine",
        "OptInTagValue": "true",
    }
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    assert "${" not in text, "a placeholder is left that the README does not list"
    for statement in statements(json.loads(text)):
        for resource in as_list(statement.get("Resource", statement.get("NotResource"))):
            assert resource == "*" or re.fullmatch(r"arn:aws:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:.+", resource), resource


def test_lambda_policy_guards_deletes_and_the_operation_tag_by_name_and_tag() -> None:
    """The fast first line; tests/test_iam_evaluation.py evaluates the policy against real runs."""
    by_action: dict[str, list[JsonDict]] = {}
    for statement in statements(iam_policy("lambda-policy.json")):
        for action in as_list(statement["Action"]):
            by_action.setdefault(action, []).append(statement)
    tag = "rds-maint:operation-id"
    for action in ("rds:DeleteDBInstance", "rds:DeleteDBCluster", "rds:DeleteDBClusterParameterGroup"):
        for statement in by_action[action]:
            resources = as_list(statement["Resource"])
            if all(":cluster-snapshot:" in r for r in resources):
                continue  # the final snapshot DeleteDBCluster creates: it does not exist yet
            nulls = statement["Condition"]["Null"]
            assert any(key.endswith(f"/{tag}") and value == "false" for key, value in nulls.items()), statement
    deny = [s for s in by_action["rds:AddTagsToResource"] if s["Effect"] == "Deny"]
    assert deny and all(s["Condition"]["ForAnyValue:StringEquals"]["aws:TagKeys"] == [tag] for s in deny)
    assert all("NotResource" in s for s in deny), "the operation tag is refused everywhere but on our own names"
    create = by_action["rds:CreateBlueGreenDeployment"] + by_action["rds:CreateDBClusterParameterGroup"]
    assert all(s["Condition"]["Null"][f"aws:RequestTag/{tag}"] == "false" for s in create)
    events = by_action["events:PutEvents"]
    assert all(
        s["Condition"]["StringEquals"]
        == {"events:source": "rds-maint-machine", "events:detail-type": "OperationStatusChanged"}
        for s in events
    ), "the engine publishes status events under the machine's source, and nothing else"
    for action in (
        "rds:DescribeDBClusters",
        "rds:DescribeDBInstances",
        "rds:ListTagsForResource",
        "rds:ModifyDBInstance",
        "rds:RebootDBInstance",
        "rds:FailoverDBCluster",
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
    ):
        assert action in by_action, f"lambda policy lacks {action}"


def rds_operations_called_by_the_package() -> set[str]:
    """RDS API names the package calls: `call("Name", ...)`, `get_paginator("snake_name")`,
    `client.snake_name(...)`. The simulator (rds_sim, outside the package) seeds moto and never runs
    in the Lambda, so it is not read."""
    botocore_session: Any = importlib.import_module("botocore.session")
    xform_name: Any = importlib.import_module("botocore").xform_name
    operations = botocore_session.get_session().get_service_model("rds").operation_names
    by_snake = {xform_name(name): name for name in operations}
    called: set[str] = set()
    package = ROOT / "rds_maint"
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        called |= {n for n in re.findall(r"""\bcall\(\s*["']([A-Z][A-Za-z]+)["']""", text) if n in operations}
        # API names as data (`("DescribeDBClusterParameterGroups", ...)` tables)
        called |= {n for n in re.findall(r"""["']([A-Z][A-Za-z]+)["']""", text) if n in operations}
        snake = re.findall(r"""get_paginator\(\s*["']([a-z_]+)["']""", text)
        snake += re.findall(r"\.([a-z][a-z0-9_]+)\(", text)
        called |= {by_snake[name] for name in snake if name in by_snake}
    return called


# Granted though the code never names them: RDS checks them on the caller's behalf (Service Authorization
# Reference, dependent actions; Aurora Blue/Green "Authorizing access"; the DeleteDBCluster final-snapshot
# notice). tests/test_iam_evaluation.py records each of them during real runs.
DEPENDENT_ACTIONS = {
    "rds:CreateDBCluster",
    "rds:CreateDBClusterEndpoint",
    "rds:DeleteDBClusterEndpoint",
    "rds:PromoteReadReplicaDBCluster",
    "rds:CreateDBClusterSnapshot",
}


def test_lambda_policy_grants_every_rds_call_in_the_code() -> None:
    called = rds_operations_called_by_the_package()
    assert "DescribeDBClusters" in called, "the scan found no RDS call at all: update its patterns"
    missing = {f"rds:{name}" for name in called} - policy_actions(iam_policy("lambda-policy.json"))
    assert not missing, f"rds_maint calls RDS APIs the Lambda policy does not grant: {sorted(missing)}"
    # the proxy is never retargeted automatically: a live target's re-registration drops its connections
    assert not {"RegisterDBProxyTargets", "DeregisterDBProxyTargets"} & called


def test_lambda_policy_grants_no_rds_action_the_code_does_not_need() -> None:
    granted = {a for a in policy_actions(iam_policy("lambda-policy.json")) if a.startswith("rds:")}
    needed = {f"rds:{name}" for name in rds_operations_called_by_the_package()} | DEPENDENT_ACTIONS
    assert not granted - needed, f"unused grants: {sorted(granted - needed)}"
    assert not {"rds:RegisterDBProxyTargets", "rds:DeregisterDBProxyTargets"} & granted


def test_state_machine_policy_covers_what_the_machine_calls() -> None:
    policy = iam_policy("state-machine-policy.json")
    by_sid = {s["Sid"]: s for s in statements(policy)}
    actions = policy_actions(policy)
    assert {"lambda:InvokeFunction", "events:PutEvents", "states:StartExecution"} <= actions
    assert {"logs:CreateLogDelivery", "logs:PutResourcePolicy", "logs:DescribeLogGroups"} <= actions
    events = by_sid["PublishInterventions"]["Condition"]["StringEquals"]
    assert events == {"events:source": "rds-maint-machine", "events:detail-type": "InterventionRequired"}
    start = [s for s in statements(policy) if "states:StartExecution" in as_list(s["Action"])]
    assert all(":stateMachine:${StateMachineName}" in str(s["Resource"]) for s in start)


def test_operator_policy_allows_running_answering_and_reading_only() -> None:
    actions = policy_actions(iam_policy("operator-policy.json"))
    rds_actions = {a for a in actions if a.startswith("rds:")}
    assert rds_actions and all(a.split(":")[1].startswith(("Describe", "List")) for a in rds_actions)
    assert actions - rds_actions <= {
        "states:StartExecution",
        "states:DescribeExecution",
        "states:ListExecutions",
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "s3:GetObject",
        "s3:ListBucket",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
    }


# ------------------------------------------------------------------------------ template


def cfn_lint_command() -> list[str] | None:
    if importlib.util.find_spec("cfnlint") is not None:
        return [sys.executable, "-m", "cfnlint"]
    exe = shutil.which("cfn-lint")
    return [exe] if exe else None


def test_template_passes_cfn_lint() -> None:
    command = cfn_lint_command()
    if command is None:
        pytest.skip("cfn-lint is neither importable nor on PATH (pip install cfn-lint to run this check)")
    proc = subprocess.run(
        [*command, "--format", "json", str(TEMPLATE_PATH)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        findings: list[JsonDict] = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        pytest.fail(f"cfn-lint did not answer JSON (rc={proc.returncode}): {proc.stdout}{proc.stderr}")
    errors = [f for f in findings if f.get("Level") == "Error"]
    assert not errors, json.dumps(errors, indent=2)
    assert proc.returncode & 2 == 0, proc.stdout + proc.stderr


def template_resources() -> dict[str, JsonDict]:
    resources: dict[str, JsonDict] = load_yaml_template()["Resources"]
    return resources


def test_template_deploys_the_machine_with_the_lambda_and_the_store() -> None:
    template = load_yaml_template()
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    resources = template["Resources"]
    machine = resources["StateMachine"]["Properties"]
    assert (TEMPLATE_PATH.parent / machine["DefinitionUri"]).resolve() == ASL_PATH.resolve()
    assert set(machine["DefinitionSubstitutions"]) == placeholders(ASL_PATH.read_text(encoding="utf-8"))
    assert machine["Type"] == "STANDARD"
    assert machine["Logging"]["IncludeExecutionData"] is False, "task tokens must stay out of the logs"
    function = resources["EngineFunction"]
    assert function["Type"] == "AWS::Serverless::Function"
    props = function["Properties"]
    assert props["Handler"] == "rds_maint.lambda_handler.handler"
    assert props["Runtime"] == "python3.12"
    assert "RDS_MAINT_STORE" in props["Environment"]["Variables"]
    assert function["Metadata"]["BuildMethod"] == "makefile", "sam build runs make build-EngineFunction"
    bucket = resources["StateBucket"]["Properties"]
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert all(bucket["PublicAccessBlockConfiguration"][k] is True for k in bucket["PublicAccessBlockConfiguration"])
    deny = resources["StateBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    log_groups = [r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert len(log_groups) >= 2


def test_template_rule_notifies_and_records_the_task_token() -> None:
    resources = template_resources()
    rule = resources["InterventionRule"]["Properties"]
    assert rule["EventPattern"]["source"] == ["rds-maint-machine"]
    assert rule["EventPattern"]["detail-type"] == ["InterventionRequired"]
    targets = {t["Id"]: t for t in rule["Targets"]}
    record = next(t for t in targets.values() if t["Arn"] == {"Fn::GetAtt": ["EngineFunction", "Arn"]})
    transformer = record["InputTransformer"]
    sample = transformer["InputTemplate"]
    for key, path in transformer["InputPathsMap"].items():
        assert path == f"$.detail.{key}"
        sample = sample.replace(f"<{key}>", json.dumps(f"value-of-{key}"))
    event = json.loads(sample)
    assert event["action"] == "record_intervention"
    assert event["action"] in importlib.import_module("rds_maint.lambda_handler").ACTIONS
    assert set(event["params"]) == {"task_token", "step_name", "step_index", "execution_arn"}
    assert event["operation_id"] == "value-of-operation_id"
    assert any(t["Arn"] == {"Ref": "InterventionTopic"} for t in targets.values())
    assert resources["InterventionEmail"]["Condition"] == "HasNotificationEmail"
    assert "NotificationEmail" in load_yaml_template()["Parameters"]


@pytest.mark.parametrize(
    ("resource", "policy_file"),
    [
        ("EngineRole", "lambda-policy.json"),
        ("StateMachineRole", "state-machine-policy.json"),
        ("OperatorPolicy", "operator-policy.json"),
        ("EngineRole/1", "opt-in-policy.json"),
    ],
)
def test_template_policies_match_the_iam_files(resource: str, policy_file: str) -> None:
    name, _, index = resource.partition("/")
    props = template_resources()[name]["Properties"]
    if "PolicyDocument" in props:
        document = props["PolicyDocument"]
    else:
        inline = props["Policies"][int(index or 0)]
        document = normalise_template_value(inline)["PolicyDocument"]  # the opt-in policy is an Fn::If
    in_template = normalise_template_value(statements(document))
    assert in_template == statements(iam_policy(policy_file))


def test_template_creates_only_the_chosen_state_store() -> None:
    template = load_yaml_template()
    assert template["Parameters"]["StateStore"]["AllowedValues"] == ["s3", "dynamodb"]
    conditions = template["Conditions"]
    assert conditions["UseS3Store"] == {"Fn::Equals": [{"Ref": "StateStore"}, "s3"]}
    assert conditions["UseTableStore"] == {"Fn::Equals": [{"Ref": "StateStore"}, "dynamodb"]}
    resources = template["Resources"]
    assert resources["StateBucket"]["Condition"] == "UseS3Store"
    assert resources["StateBucketPolicy"]["Condition"] == "UseS3Store"
    assert resources["StateTable"]["Condition"] == "UseTableStore"
    store_url = resources["EngineFunction"]["Properties"]["Environment"]["Variables"]["RDS_MAINT_STORE"]
    assert store_url == {
        "Fn::If": [
            "UseTableStore",
            {"Fn::Sub": "dynamodb://${StateTable}"},
            {"Fn::Sub": "s3://${StateBucket}/${StatePrefix}"},
        ]
    }
    for name in ("EngineRole", "OperatorPolicy"):
        props = resources[name]["Properties"]
        document = props["PolicyDocument"] if "PolicyDocument" in props else props["Policies"][0]["PolicyDocument"]
        for statement in document["Statement"]:
            actions = {action.split(":")[0] for action in as_list(normalise_template_value(statement)["Action"])}
            wanted = "UseS3Store" if "s3" in actions else "UseTableStore" if "dynamodb" in actions else None
            if wanted is None:
                assert "Fn::If" not in statement
                continue
            assert set(statement) == {"Fn::If"}, f"{name}: a store statement must exist only for its store"
            condition, _, otherwise = statement["Fn::If"]
            assert condition == wanted and otherwise == {"Ref": "AWS::NoValue"}, f"{name}: {statement}"


def test_template_table_has_the_layout_init_store_creates() -> None:
    """`rds-maint init --store dynamodb://TABLE` and the stack must make the same table."""
    moto: Any = pytest.importorskip("moto")
    boto3: Any = pytest.importorskip("boto3")
    init_store = importlib.import_module("rds_maint.store").init_store
    table = template_resources()["StateTable"]["Properties"]
    with moto.mock_aws():
        init_store("dynamodb://rds-maint-layout", region=REGION)
        client = boto3.client("dynamodb", region_name=REGION)
        made = client.describe_table(TableName="rds-maint-layout")["Table"]
        backups = client.describe_continuous_backups(TableName="rds-maint-layout")["ContinuousBackupsDescription"]

    def by_name(items: list[JsonDict]) -> dict[str, Any]:
        return {item["AttributeName"]: item.get("AttributeType", item.get("KeyType")) for item in items}

    assert by_name(table["AttributeDefinitions"]) == by_name(made["AttributeDefinitions"])
    assert table["KeySchema"] == made["KeySchema"]
    indexes = {
        index["IndexName"]: {"KeySchema": index["KeySchema"], "Projection": index["Projection"]}
        for index in made["GlobalSecondaryIndexes"]
    }
    assert {index.pop("IndexName"): index for index in table["GlobalSecondaryIndexes"]} == indexes
    assert set(indexes) == {"by_cluster", "by_state"}
    assert made["BillingModeSummary"]["BillingMode"] == table["BillingMode"] == "PAY_PER_REQUEST"
    assert made["SSEDescription"]["Status"] == "ENABLED" and table["SSESpecification"]["SSEEnabled"] is True
    pitr = backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
    assert pitr == "ENABLED" and table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def intervention_targets() -> dict[str, JsonDict]:
    rule = template_resources()["InterventionRule"]["Properties"]
    return {str(t["Id"]): t for t in rule["Targets"]}


def test_template_sns_notice_is_a_readable_message_without_the_task_token() -> None:
    notify = next(t for t in intervention_targets().values() if t["Arn"] == {"Ref": "InterventionTopic"})
    transformer = notify["InputTransformer"]
    paths = transformer["InputPathsMap"]
    assert "$.detail.task_token" not in paths.values() and "task_token" not in paths
    assert not any(path in ("$", "$.detail") for path in paths.values()), "the whole event carries the token"
    assert {"operation_id", "cluster_id", "pause_reason", "step_name", "step_index"} <= set(paths)
    text, variables = transformer["InputTemplate"]["Fn::Sub"]
    assert "<aws.events.event" not in text
    assert not text.lstrip().startswith("{"), "a text message for people, not JSON"
    for key in paths:
        assert f"<{key}>" in text, f"{key} is mapped but never shown"
    notify_state = next(s for s in asl_states().values() if "putEvents.waitForTaskToken" in str(s.get("Resource")))
    allowed = notify_state["Parameters"]["Entries"][0]["Detail"]["allowed_actions"]
    assert ", ".join(allowed) in text, "the message lists exactly the actions the machine offers"
    assert "rds-maint respond <operation_id> --action" in text and "--store ${StoreUrl}" in text
    assert set(variables) == {"StoreUrl"}
    # The token stays in the event for the engine Lambda (and for any target an operator adds).
    record = intervention_targets()["RecordTaskToken"]
    assert record["InputTransformer"]["InputPathsMap"]["task_token"] == "$.detail.task_token"


def test_template_topic_is_encrypted_with_a_key_eventbridge_may_use() -> None:
    resources = template_resources()
    key_ref = resources["InterventionTopic"]["Properties"]["KmsMasterKeyId"]
    # alias/aws/sns cannot work: EventBridge may not use the AWS managed key, whose policy is fixed.
    assert key_ref == {"Ref": "InterventionTopicKey"}
    key = resources["InterventionTopicKey"]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    grants = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if "events.amazonaws.com" in as_list(s.get("Principal", {}).get("Service", []))
    ]
    assert grants and {"kms:GenerateDataKey*", "kms:Decrypt"} <= set(as_list(grants[0]["Action"]))
    assert grants[0]["Effect"] == "Allow"
    publishers = resources["InterventionTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert all(s["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::GetAtt"][1] == "Arn" for s in publishers)


def test_template_undelivered_intervention_events_land_in_a_queue_with_an_alarm() -> None:
    resources = template_resources()
    dlq = {"Fn::GetAtt": ["InterventionDeadLetterQueue", "Arn"]}
    for target in intervention_targets().values():
        assert target["DeadLetterConfig"]["Arn"] == dlq, f"{target['Id']} needs a dead-letter queue"
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    queue = resources["InterventionDeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True, "the dead letters carry the task token"
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    policy = resources["InterventionDeadLetterQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "InterventionDeadLetterQueue"}]
    allow = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert len(allow) == 1 and allow[0]["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow[0]["Action"] == "sqs:SendMessage" and allow[0]["Resource"] == dlq
    assert allow[0]["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": ["InterventionRule", "Arn"]}
    alarm = resources["UndeliveredNoticeAlarm"]["Properties"]
    assert alarm["Namespace"] == "AWS/SQS" and alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["InterventionDeadLetterQueue", "QueueName"]}}
    ]
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"] == [{"Ref": "InterventionTopic"}]


def store_actions_called(module: str) -> set[str]:
    """IAM actions the store's runtime requests need (`_call("Api"` / `_request("Api"`; `init` is not runtime)."""
    text = (ROOT / "rds_maint" / "store" / f"{module}.py").read_text(encoding="utf-8")
    apis = set(re.findall(r"""\b_(?:call|request)\(\s*["']([A-Z][A-Za-z0-9]+)["']""", text))
    service = "dynamodb" if module == "dynamodb" else "s3"
    actions: set[str] = set()
    for api in apis:
        if api == "TransactWriteItems":
            # No IAM action of its own: each item needs the action of its kind.
            kinds = set(re.findall(r"""\{\s*["'](Put|Update|Delete|ConditionCheck)["']\s*:""", text))
            assert kinds, "a transaction with no Put/Update/Delete/ConditionCheck item: update this scan"
            actions |= {f"dynamodb:{kind}Item" for kind in kinds}
        elif api == "ListObjectsV2":
            actions.add("s3:ListBucket")
        else:
            actions.add(f"{service}:{api}")
    return actions


@pytest.mark.parametrize("module", ["s3", "dynamodb"])
def test_lambda_policy_grants_exactly_what_the_store_calls(module: str) -> None:
    called = store_actions_called(module)
    assert len(called) >= 3, f"the scan of store/{module}.py found almost nothing: update its patterns"
    granted = {action for action in policy_actions(iam_policy("lambda-policy.json")) if action.startswith(module)}
    assert granted == called, f"store/{module}.py needs {sorted(called)}, the Lambda policy grants {sorted(granted)}"


# ------------------------------------------------------------------------------ examples


EXAMPLE_FILES = sorted(p.name for p in EXAMPLES_DIR.glob("*.json") if p.name != "resume.json")


def test_there_is_one_example_per_operation_type() -> None:
    types = {load_json(EXAMPLES_DIR / name)["params"]["type"] for name in EXAMPLE_FILES}
    assert types == OPERATION_TYPES
    assert {name.removesuffix(".json") for name in EXAMPLE_FILES} == OPERATION_TYPES


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_example_is_a_valid_start_input(name: str) -> None:
    example = load_json(EXAMPLES_DIR / name)
    assert set(example) == {"params"}
    request = example["params"]
    assert request["type"] in OPERATION_TYPES
    assert request["cluster_id"] == "orders-prod"
    parse_request = importlib.import_module("rds_maint.engine").parse_request
    parsed = parse_request(request)
    assert str(getattr(parsed.type, "value", parsed.type)) == request["type"]


def test_resume_example_names_an_operation() -> None:
    example = load_json(EXAMPLES_DIR / "resume.json")
    assert isinstance(example["operation_id"], str) and example["operation_id"]
    assert "params" not in example


def test_examples_readme_shows_cli_and_step_functions_commands() -> None:
    readme = (EXAMPLES_DIR / "README.md").read_text(encoding="utf-8")
    for snippet in (
        "rds-maint plan --type instance_type_change --cluster orders-prod",
        "--param target_instance_type=db.r6g.xlarge",
        "rds-maint run",
        "aws stepfunctions start-execution",
        "--input file://examples/instance_type_change.json",
        "aws stepfunctions send-task-success --task-token",
        """--task-output '{"action":"continue\"""",
        "send-task-failure",
        "--error OperationAborted",
        "rds-maint respond",
        "--action continue",
    ):
        assert snippet in readme, f"examples/README.md lacks {snippet!r}"


# ------------------------------------------------------------------------------ packaging


def test_lambda_entry_reexports_the_handler() -> None:
    spec = importlib.util.spec_from_file_location("lambda_entry", CMD_DIR / "lambda_entry.py")
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__all__ == ["handler"]
    assert module.handler is importlib.import_module("rds_maint.lambda_handler").handler


def test_package_script_is_valid_bash() -> None:
    script = CMD_DIR / "package_lambda.sh"
    text = script.read_text(encoding="utf-8")
    assert "--target" in text and "[dev]" not in text
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not available")
    subprocess.run([bash, "-n", str(script)], check=True, timeout=30)


LAMBDA_REQUIREMENTS = CMD_DIR / "lambda-requirements.txt"
NETWORK_TESTS = "RDS_MAINT_NETWORK_TESTS"  # set to 1 to run the builds that download the pinned wheels


def pinned_requirements() -> dict[str, tuple[str, list[str]]]:
    """cmd/lambda-requirements.txt: name -> (version, sha256 hashes)."""
    text = LAMBDA_REQUIREMENTS.read_text(encoding="utf-8").replace("\\\n", " ")
    pins: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, *options = line.split()
        name, version = spec.split("==")
        pins[name.lower().replace("_", "-")] = (version, [o.removeprefix("--hash=sha256:") for o in options])
    return pins


def test_lambda_dependencies_are_pinned_with_hashes_and_satisfy_the_project() -> None:
    import tomllib

    from packaging.requirements import Requirement

    pins = pinned_requirements()
    for name, (version, hashes) in pins.items():
        assert re.fullmatch(r"[0-9][0-9a-z.]*", version), f"{name}: pin an exact version"
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), f"{name}: sha256 hashes"
    # pydantic-core is compiled: one wheel per Lambda architecture for the runtime's CPython 3.12, and the
    # same two for CPython 3.11, the Python `make e2e` builds for
    assert len(pins["pydantic-core"][1]) == 4, "pydantic-core: one wheel per architecture and Python"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for text in project["dependencies"]:
        requirement = Requirement(text)
        name = requirement.name.lower()
        assert name in pins, f"{name} (pyproject.toml) is not pinned for the Lambda bundle"
        assert requirement.specifier.contains(pins[name][0]), f"pin {name}=={pins[name][0]} breaks {text}"
    script = (CMD_DIR / "package_lambda.sh").read_text(encoding="utf-8")
    assert "--require-hashes" in script and "lambda-requirements.txt" in script
    assert "--only-binary=:all:" in script and "--platform" in script and "--python-version" in script


def test_sam_builds_the_function_with_the_makefile_target() -> None:
    function = template_resources()["EngineFunction"]
    assert function["Metadata"]["BuildMethod"] == "makefile"
    makefile_dir = (TEMPLATE_PATH.parent / function["Metadata"]["ContextPath"]).resolve()
    assert makefile_dir == ROOT
    makefile = (makefile_dir / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^build-EngineFunction:", makefile, re.M), "SAM runs make build-<LogicalId>"
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not available")
    dry = subprocess.run(
        [make, "-n", "-C", str(ROOT), "build-EngineFunction", "ARTIFACTS_DIR=/tmp/sam-artifacts"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert 'BUILD_DIR="/tmp/sam-artifacts" bash' in dry.stdout and "cmd/package_lambda.sh" in dry.stdout
    refused = subprocess.run(
        [make, "-C", str(ROOT), "build-EngineFunction", "ARTIFACTS_DIR="], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0 and "ARTIFACTS_DIR is not set" in refused.stderr


def assert_bundle_layout(bundle: Path) -> None:
    assert (bundle / "rds_maint" / "lambda_handler.py").is_file()
    assert (bundle / "lambda_entry.py").is_file()
    assert not (bundle / "bin").exists() and not (bundle / "tests").exists()
    assert not (bundle / "rds_sim").exists() and not (bundle / "sfn_harness").exists(), "tests' code, not the Lambda's"
    assert list((bundle / "pydantic_core").glob("_pydantic_core.cpython-312-*-linux-gnu.so")), "a Lambda wheel"
    for name, (version, _) in pinned_requirements().items():
        dist = name.replace("-", "_")
        assert list(bundle.glob(f"{dist}-{version}.dist-info")), f"{name}=={version} not installed"
    assert list((bundle / "rds_maint" / "__pycache__").glob("lambda_handler.cpython-312.pyc")), "precompiled"
    assert not list(bundle.rglob("*.cpython-311.pyc")), "bytecode of another Python is dead weight"


@pytest.mark.skipif(os.environ.get(NETWORK_TESTS) != "1", reason=f"downloads the pinned wheels: set {NETWORK_TESTS}=1")
def test_make_build_target_produces_the_bundle(tmp_path: Path) -> None:
    """What `sam build` runs, without SAM: the Makefile target into an artifacts directory."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not available")
    artifacts = tmp_path / "EngineFunction"
    built = subprocess.run(
        [make, "-C", str(ROOT), "build-EngineFunction", f"ARTIFACTS_DIR={artifacts}"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    if "no bytecode" in built.stdout:
        pytest.skip("no Python 3.12 interpreter on this machine to precompile with")
    assert_bundle_layout(artifacts)


@pytest.mark.skipif(os.environ.get(NETWORK_TESTS) != "1", reason=f"downloads the pinned wheels: set {NETWORK_TESTS}=1")
def test_sam_build_on_a_fresh_clone_builds_the_function(tmp_path: Path) -> None:
    sam = shutil.which("sam")
    if sam is None:
        pytest.skip("SAM CLI is not installed (pip install aws-sam-cli, in a venv of its own)")
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not available")
    clone = tmp_path / "clone"
    subprocess.run([git, "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    for relative in ("sfn/template.yaml", "Makefile", "cmd/package_lambda.sh", "cmd/lambda-requirements.txt"):
        shutil.copy2(ROOT / relative, clone / relative)  # the working tree's, committed or not
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    env.pop("VIRTUAL_ENV", None)
    built = subprocess.run(
        [sam, "build", "-t", "sfn/template.yaml"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert built.returncode == 0 and "Build Succeeded" in built.stdout, built.stdout + built.stderr
    assert_bundle_layout(clone / ".aws-sam" / "build" / "EngineFunction")


# ------------------------------------------------------------------------------ executions (moto)


class FakeCrash(Exception):
    """The scripted engine 'crashes': the Lambda answers with a FunctionError."""


@dataclass
class FakeOperation:
    id: str
    cluster_id: str
    state: str
    script: deque[str]
    step_index: int = 0
    pause_reason: str | None = None
    error: str | None = None
    unwind: str | None = None
    failures: list[JsonDict] = field(default_factory=list)


class FakeEngine:
    """A stand-in for the engine Lambda that speaks the DESIGN section 4/5 protocol.

    Each step/poll takes the next scripted outcome: continue, wait, intervention, completed,
    failed, finish (end of an abort/rollback clean-up), error, conflict, raise.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ops: dict[str, FakeOperation] = {}
        self.calls: list[JsonDict] = []
        self.script: list[str] = ["completed"]
        self.ignore_bad_answers = False  # answer a resume without a valid action with no error (and no change)

    def seed(self, state: str, script: Iterable[str] = (), cluster_id: str = "orders-prod") -> FakeOperation:
        op = FakeOperation(f"{cluster_id}-{len(self.ops) + 1}", cluster_id, state, deque(script))
        if state == "paused":
            op.pause_reason = "seeded pause"
        self.ops[op.id] = op
        return op

    def actions(self) -> list[str]:
        with self.lock:
            return [str(call["action"]) for call in self.calls]

    def handle(self, event: JsonDict) -> JsonDict:
        with self.lock:
            self.calls.append(event)
            result = self._dispatch(event)
        assert set(result) == RESULT_KEYS
        return result

    @staticmethod
    def _result(op: FakeOperation | None, outcome: str, wait_seconds: int = 0, error: str | None = None) -> JsonDict:
        return {
            "operation_id": op.id if op else None,
            "operation_state": op.state if op else None,
            "step_index": op.step_index if op else None,
            "step_name": f"step-{op.step_index}" if op else None,
            "step_action": "fake_action" if op else None,
            "step_state": "pending" if op else None,
            "outcome": outcome,
            "continue": outcome == "continue",
            "needs_wait": outcome == "wait",
            "needs_intervention": outcome == "intervention",
            "completed": outcome == "completed",
            "failed": outcome == "failed",
            "wait_seconds": wait_seconds,
            "pause_reason": op.pause_reason if op else None,
            "error": error,
        }

    def _report(self, op: FakeOperation, error: str | None = None) -> JsonDict:
        outcome = {"completed": "completed", "failed": "failed", "rolled_back": "failed", "paused": "intervention"}
        final_error = op.error if op.state in ("completed", "failed", "rolled_back") else None
        return self._result(op, outcome.get(op.state, "continue"), error=error or final_error)

    def _dispatch(self, event: JsonDict) -> JsonDict:
        action = event["action"]
        params: Any = event.get("params") or {}
        if not isinstance(params, dict):  # as rds_maint.lambda_handler answers
            return self._result(None, "failed", error="params must be an object")
        if action == "create":
            if params.get("type") not in OPERATION_TYPES:
                return self._result(None, "failed", error=f"unknown operation type {params.get('type')!r}")
            op = self.seed("created", self.script, cluster_id=str(params["cluster_id"]))
            return self._report(op)
        op_id = event.get("operation_id")
        if not isinstance(op_id, str) or op_id not in self.ops:
            return self._result(None, "failed", error=f"no operation {op_id!r}")
        op = self.ops[op_id]
        if action == "start":
            op.state = "running" if op.state == "created" else op.state
            return self._report(op)
        if action == "status":
            return self._report(op)
        if action in ("step", "poll"):
            return self._advance(op)
        if action == "resume":
            return self._resume(op, params)
        if action == "fail":
            if op.state not in ("completed", "failed", "rolled_back"):
                op.state = "paused"
                op.pause_reason = f"execution failed: {params.get('error')}"
                op.failures.append(params)
            return self._report(op)
        raise AssertionError(f"the machine sent an unexpected action {action!r}")

    def _advance(self, op: FakeOperation) -> JsonDict:
        if op.state in ("completed", "failed", "rolled_back", "paused"):
            return self._report(op)
        outcome = op.script.popleft() if op.script else "completed"
        if outcome == "raise":
            raise FakeCrash("the engine crashed")
        if outcome == "error":
            return self._result(op, "failed", error="engine error: store unreachable")
        if outcome == "conflict":
            return self._report(op, error="conflict: version 3 is stale; re-read: running")
        if outcome == "continue":
            op.step_index += 1
        elif outcome == "intervention":
            op.state = "paused"
            op.pause_reason = f"step-{op.step_index} needs a person"
        elif outcome in ("completed", "finish"):
            op.state = {"abort": "failed", "rollback": "rolled_back"}.get(op.unwind or "", "completed")
            op.error = "aborted by operator" if op.unwind == "abort" else None
        elif outcome == "failed":
            op.state = "failed"
            op.error = f"step-{op.step_index} failed"
        return self._report(op) if outcome != "wait" else self._result(op, "wait", wait_seconds=1)

    def _resume(self, op: FakeOperation, answer: JsonDict) -> JsonDict:
        action = answer.get("action")
        if action not in RESUME_ACTIONS and self.ignore_bad_answers:
            return self._report(op)
        if action not in RESUME_ACTIONS:
            return self._result(None, "failed", error=f"unknown resume action {action!r}")
        if op.state != "paused":
            if action == "continue":
                return self._report(op)
            return self._result(None, "failed", error=f"operation {op.id} is {op.state}")
        op.pause_reason = None
        if action == "continue":
            op.state = "rolling_back" if op.unwind else "running"
        elif action == "mark_complete":
            op.state = "completed"
        else:
            op.unwind = str(action)
            op.state = "rolling_back"
            op.script = deque(["continue", "finish"])
        return self._report(op)


@dataclass
class Machine:
    client: SFNClient
    engine: FakeEngine
    arn: str
    handoff_supported: bool = True
    started: list[str] = field(default_factory=list)

    def start(self, payload: JsonDict, name: str = "run-1") -> str:
        arn = self.client.start_execution(stateMachineArn=self.arn, name=name, input=json.dumps(payload))[
            "executionArn"
        ]
        self.started.append(arn)
        return arn

    def history(self, execution_arn: str) -> list[JsonDict]:
        return execution_history(self.client, execution_arn)

    def notices(self, execution_arn: str) -> list[JsonDict]:
        """The EventBridge entries the machine sent with putEvents.waitForTaskToken, in order."""
        found: list[JsonDict] = []
        for event in self.history(execution_arn):
            details = event.get("taskScheduledEventDetails")
            if not details or details.get("resource") != "putEvents.waitForTaskToken":
                continue
            entry: JsonDict = json.loads(details["parameters"])["Entries"][0]
            if isinstance(entry["Detail"], str):
                entry["Detail"] = json.loads(entry["Detail"])
            found.append(entry)
        return found

    def wait_for_notice(self, execution_arn: str, number: int = 1, timeout: float = 180) -> JsonDict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            notices = self.notices(execution_arn)
            if len(notices) >= number:
                return notices[number - 1]
            status = self.client.describe_execution(executionArn=execution_arn)["status"]
            assert status == "RUNNING", f"execution ended ({status}) before notice {number}"
            time.sleep(0.05)
        raise AssertionError(f"no notice {number} within {timeout}s; engine calls: {self.engine.actions()}")

    def wait_done(self, execution_arn: str, timeout: float = 180) -> JsonDict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described: Any = self.client.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                result: JsonDict = dict(described)
                return result
            time.sleep(0.05)
        raise AssertionError(f"still running after {timeout}s; engine calls: {self.engine.actions()}")


def entered(history: list[JsonDict], state_name: str) -> list[int]:
    return [
        i
        for i, event in enumerate(history)
        if event["type"].endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] == state_name
    ]


def notify_state_name() -> str:
    return next(
        name
        for name, state in asl_states().items()
        if state.get("Resource") == "arn:aws:states:::events:putEvents.waitForTaskToken"
    )


MachineFactory = Callable[..., Machine]


@pytest.fixture
def machine_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[MachineFactory]:
    """Build the machine in moto's interpreter; engine calls go to a FakeEngine.

    Timings shrink so the tests are fast: the fixed 5 s Wait becomes 1 s. The routing is what is
    under test (tests/test_sfn_execution.py runs the ASL unchanged against the real engine).
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
