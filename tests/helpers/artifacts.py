"""Paths of the deployment artefacts (sfn/, iam/, examples/, cmd/), the contract sets they must agree on,
and readers for the ASL definition, the SAM template and the IAM policy files."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sfn_harness.machine import load_template
from tests.helpers.contract import CONTRACT_KEYS

ROOT = Path(__file__).resolve().parents[2]
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


def template_resources() -> dict[str, JsonDict]:
    resources: dict[str, JsonDict] = load_yaml_template()["Resources"]
    return resources


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


def iam_policy(name: str) -> JsonDict:
    policy: JsonDict = load_json(IAM_DIR / name)
    return policy


def documented_placeholders() -> set[str]:
    readme = (IAM_DIR / "README.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `\$\{([A-Za-z]+)\}` \|", readme, flags=re.MULTILINE))


def policy_actions(policy: JsonDict) -> set[str]:
    return {action for statement in statements(policy) for action in as_list(statement.get("Action", []))}
