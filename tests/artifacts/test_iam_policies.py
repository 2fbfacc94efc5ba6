"""The IAM policy files (iam/): documents without wildcards, documented placeholders, and grants that match
what the code calls (RDS, the stores) and what the state machine and an operator need.
tests/artifacts/test_iam_evaluation.py evaluates them against real runs."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import pytest

from tests.helpers.artifacts import (
    IAM_DIR,
    IAM_FILES,
    ROOT,
    JsonDict,
    as_list,
    documented_placeholders,
    iam_policy,
    placeholders,
    policy_actions,
    statements,
)
from tests.helpers.shipped_iam import PLACEHOLDERS

# ------------------------------------------------------------------------------ IAM

MARK = "rds-maint:active-operation"


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
    for key, value in PLACEHOLDERS.items():
        text = text.replace("${" + key + "}", value)
    assert "${" not in text, "a placeholder is left that the README does not list"
    for statement in statements(json.loads(text)):
        for resource in as_list(statement.get("Resource", statement.get("NotResource"))):
            assert resource == "*" or re.fullmatch(r"arn:aws:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:.+", resource), resource


def test_lambda_policy_guards_deletes_and_the_operation_tag_by_name_and_tag() -> None:
    """The fast first line; tests/artifacts/test_iam_evaluation.py evaluates the policy against real runs."""
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
    # the target's mark: removals (and the grant of the mark itself) name that one key, on clusters and
    # DB instances only (an operation on an RDS DB instance marks the instance)
    mark = by_action["rds:RemoveTagsFromResource"]
    assert mark and all(s["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"] == [MARK] for s in mark)
    assert all(s["Condition"]["Null"] == {"aws:TagKeys": "false"} for s in mark), "no keys must not pass"
    assert all(r.endswith((":cluster:*", ":db:*")) for s in mark for r in as_list(s["Resource"]))
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
# Reference, dependent actions; Aurora and RDS Blue/Green "Authorizing access"; the DeleteDBCluster
# final-snapshot notice). tests/artifacts/test_iam_evaluation.py records each of them during real runs.
DEPENDENT_ACTIONS = {
    "rds:CreateDBCluster",
    "rds:CreateDBClusterEndpoint",
    "rds:DeleteDBClusterEndpoint",
    "rds:PromoteReadReplicaDBCluster",
    "rds:CreateDBClusterSnapshot",
    # Blue/Green of an RDS DB instance (RDS User Guide, "Authorizing access to Amazon RDS blue/green
    # deployment operations"): create needs CreateDBInstanceReadReplica, switchover PromoteReadReplica.
    "rds:CreateDBInstanceReadReplica",
    "rds:PromoteReadReplica",
    # DeleteDBInstance of the old blue instance with a final snapshot (tests/helpers/iam_recorder.py)
    "rds:CreateDBSnapshot",
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


def test_operator_policy_allows_running_answering_reading_and_writing_operations_only() -> None:
    """Writes: the operation `start-execution` creates and the pause request `pause` saves; no delete."""
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
        "s3:PutObject",
        "s3:ListBucket",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:Scan",
    }


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
