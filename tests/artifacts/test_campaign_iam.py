"""The campaign state machine's role (iam/campaign-machine-policy.json, the template's CampaignMachineRole):
every call a real campaign execution makes is allowed, and nothing beside it.

The calls are read from the execution history of a campaign run in moto's interpreter (the harness of
`sfn_harness.machine`), each turned into the IAM checks AWS makes for it (Step Functions developer guide,
"IAM policies for integrated services": a `startExecution.sync:2` task needs states:StartExecution on the
child machine, states:DescribeExecution and states:StopExecution on its executions, and events:PutTargets,
events:PutRule and events:DescribeRule on the managed rule StepFunctionsGetEventsForStepFunctionsExecutionRule;
an optimized events:putEvents task needs events:PutEvents on the bus, with the entry's source and detail-type
as condition keys). A Distributed Map (waves above 40 targets) also needs the parent's own StartExecution and
DescribeExecution/StopExecution on its Map Run children ("Permissions to run a Distributed Map"): the run in
moto has no Map Run, so those are checked on the ARN forms the guide gives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rds_maint.campaign.schedule import resume
from sfn_harness.machine import CAMPAIGN_MACHINE_NAME, MACHINE_NAME
from tests.helpers.artifacts import (
    IAM_DIR,
    as_list,
    documented_placeholders,
    iam_policy,
    normalise_template_value,
    placeholders,
    statements,
    template_resources,
)
from tests.helpers.campaign_sfn import CLUSTERS, Harness, campaign_harness, make_campaign, record_of, seed, wait_for
from tests.helpers.iam_evaluator import Request, evaluate
from tests.helpers.shipped_iam import shipped_policy

ACCOUNT, REGION = "123456789012", "us-east-1"
SYNC_RULE = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
OPERATION_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{MACHINE_NAME}"
CAMPAIGN_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{CAMPAIGN_MACHINE_NAME}"


@pytest.fixture
def sfn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serialised_aws: None) -> Iterator[Harness]:
    with campaign_harness(tmp_path, monkeypatch) as harness:
        yield harness


def execution_arn(machine_arn: str, name: str) -> str:
    return machine_arn.replace(":stateMachine:", ":execution:") + ":" + name


def requests_of(history: list[dict[str, Any]]) -> list[Request]:
    """The IAM checks behind each task the campaign execution scheduled."""
    found: list[Request] = []
    for event in history:
        if event["type"] == "LambdaFunctionScheduled":
            found.append(Request("lambda:InvokeFunction", event["lambdaFunctionScheduledEventDetails"]["resource"]))
        if event["type"] != "TaskScheduled":
            continue
        details = event["taskScheduledEventDetails"]
        parameters = json.loads(details["parameters"])
        if details["resource"].startswith("startExecution.sync"):
            machine = parameters["StateMachineArn"]
            found.append(Request("states:StartExecution", machine))
            child = execution_arn(machine, parameters["Name"])
            found += [Request("states:DescribeExecution", child), Request("states:StopExecution", child)]
            found += [Request(f"events:{a}", SYNC_RULE) for a in ("PutTargets", "PutRule", "DescribeRule")]
        elif details["resource"] == "startExecution":  # the hand-off to a fresh execution of itself
            found.append(Request("states:StartExecution", parameters["StateMachineArn"]))
        elif details["resource"] == "putEvents":
            for entry in parameters["Entries"]:
                bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{entry['EventBusName']}"
                context = {"events:source": entry["Source"], "events:detail-type": entry["DetailType"]}
                found.append(Request("events:PutEvents", bus, context))
        else:
            raise AssertionError(f"a task this test does not know: {details}")
    return found


def test_every_call_of_a_campaign_execution_is_allowed_by_the_campaign_machine_policy(sfn: Harness) -> None:
    world = sfn.world
    seed(world, CLUSTERS[:2])
    campaign = make_campaign(world, CLUSTERS[:2], max_concurrency=2, canary=1, approve_waves=True)
    arn = sfn.start_campaign(campaign.id)
    wait_for(lambda: len(sfn.drain("campaigns")) >= 1, "the approval notice", sfn)
    record = record_of(world, campaign.id)
    resume(record, "ops@example.com", world.clock.now())
    world.store.save_campaign(record)
    assert sfn.wait_done(arn, timeout=180)["status"] == "SUCCEEDED"

    requests = requests_of(sfn.history(arn))
    actions = {r.action for r in requests}
    assert {"lambda:InvokeFunction", "states:StartExecution", "events:PutEvents"} <= actions
    children = {r.resource for r in requests if r.action == "states:DescribeExecution"}
    assert children == {e["executionArn"] for e in sfn.executions()}, "the ARNs AWS checks are the children's"
    role = [shipped_policy("campaign-machine-policy.json")]
    for request in requests:
        decision = evaluate(role, request)
        assert decision.allowed, (request, decision.reason)


def test_a_hand_off_and_a_distributed_wave_may_start_and_follow_their_own_executions_and_nothing_else() -> None:
    role = [shipped_policy("campaign-machine-policy.json")]
    map_child = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{CAMPAIGN_MACHINE_NAME}/Wave:0d3b9e1c:5a6f7b8c"
    for request in (
        Request("states:StartExecution", CAMPAIGN_MACHINE),
        Request("states:DescribeExecution", map_child),
        Request("states:StopExecution", map_child),
    ):
        assert evaluate(role, request).allowed, request
    own = execution_arn(CAMPAIGN_MACHINE, "c-20261202-1200-ab12")
    other = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:payments-machine"
    bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    for request in (
        Request("states:StopExecution", own),  # a campaign execution never stops itself or a sibling
        Request("states:StartExecution", other),
        Request("states:DescribeExecution", execution_arn(other, "x")),
        Request("states:StopExecution", execution_arn(other, "x")),
        Request("states:SendTaskSuccess", "*"),  # answers are a person's
        Request("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:other"),
        Request(
            "events:PutEvents",
            bus,
            {"events:source": "rds-maint-machine", "events:detail-type": "InterventionRequired"},
        ),
        Request("events:PutRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/anything-else"),
    ):
        assert not evaluate(role, request).allowed, request


def test_the_operator_may_start_and_follow_campaign_executions() -> None:
    operator = [shipped_policy("operator-policy.json")]
    execution = execution_arn(CAMPAIGN_MACHINE, "c-20261202-1200-ab12")
    for request in (
        Request("states:StartExecution", CAMPAIGN_MACHINE),
        Request("states:ListExecutions", CAMPAIGN_MACHINE),
        Request("states:DescribeExecution", execution),
    ):
        assert evaluate(operator, request).allowed, request
    assert not evaluate(operator, Request("states:StopExecution", execution)).allowed


def test_the_policy_file_has_no_wildcard_action_and_only_documented_placeholders() -> None:
    text = (IAM_DIR / "campaign-machine-policy.json").read_text(encoding="utf-8")
    assert placeholders(text) <= documented_placeholders()
    document = json.loads(text)
    sids = [s["Sid"] for s in statements(document)]
    assert len(sids) == len(set(sids))
    for statement in statements(document):
        assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
        for action in as_list(statement["Action"]):
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", action), action
        resources = as_list(statement["Resource"])
        assert resources != ["*"] or statement["Sid"] == "DeliverExecutionLogs", statement["Sid"]


def test_the_template_role_of_the_campaign_machine_is_the_iam_file() -> None:
    role = template_resources()["CampaignMachineRole"]["Properties"]
    [inline] = role["Policies"]
    in_template = normalise_template_value(statements(inline["PolicyDocument"]))
    assert in_template == statements(iam_policy("campaign-machine-policy.json"))
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
