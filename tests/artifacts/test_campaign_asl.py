"""The campaign state machine's definition (sfn/rds-maint-campaign.asl.json) and its place in the template.

What the ASL says is checked here; what it does is run in tests/scenarios/test_campaign_sfn.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rds_maint.campaign.machine_steps import INLINE_LIMIT
from rds_maint.lambda_handler import CAMPAIGN_ACTIONS
from tests.helpers.artifacts import (
    ASL_PATH,
    TEMPLATE_PATH,
    JsonDict,
    is_terminal,
    load_yaml_template,
    placeholders,
    reachable,
    transitions,
)

CAMPAIGN_ASL_PATH = ASL_PATH.parent / "rds-maint-campaign.asl.json"
INLINE_CONCURRENCY_CAP = 40  # an inline Map runs at most 40 iterations at once (Step Functions guide, Inline Map)


def load(path: Path) -> JsonDict:
    document: JsonDict = json.loads(path.read_text(encoding="utf-8"))
    return document


def all_states(machine: JsonDict) -> dict[str, JsonDict]:
    """Every state, those inside Map item processors included (their names are unique here)."""
    found: dict[str, JsonDict] = {}
    for name, state in machine["States"].items():
        assert name not in found, f"state {name} defined twice"
        found[name] = state
        if state["Type"] == "Map":
            found.update(all_states(state["ItemProcessor"]))
    return found


def lambda_tasks(machine: JsonDict) -> dict[str, JsonDict]:
    return {n: s for n, s in all_states(machine).items() if s["Type"] == "Task" and s["Resource"] == "${LambdaArn}"}


def maps() -> dict[str, JsonDict]:
    return {n: s for n, s in load(CAMPAIGN_ASL_PATH)["States"].items() if s["Type"] == "Map"}


def test_the_definition_parses_and_every_state_is_reachable_and_leads_somewhere() -> None:
    machine = load(CAMPAIGN_ASL_PATH)
    for scope in [machine, *(m["ItemProcessor"] for m in maps().values())]:
        states: dict[str, JsonDict] = scope["States"]
        assert scope["StartAt"] in states
        assert reachable(scope["StartAt"], states) == set(states), "a state nothing leads to"
        for name, state in states.items():
            assert all(t in states for t in transitions(state)), f"{name} leads outside its scope"
            assert transitions(state) or is_terminal(state), f"{name} is a dead end"
    assert placeholders(CAMPAIGN_ASL_PATH.read_text(encoding="utf-8")) == {"LambdaArn", "OperationMachineArn"}


def test_every_lambda_task_retries_lambda_service_errors_as_the_operation_machine_does() -> None:
    [operation_retrier] = load(ASL_PATH)["States"]["Create"]["Retry"]
    tasks = lambda_tasks(load(CAMPAIGN_ASL_PATH))
    assert {t["Parameters"]["action"] for t in tasks.values()} == set(CAMPAIGN_ACTIONS)
    for name, task in tasks.items():
        assert task["Retry"][0] == operation_retrier, name
        retried = {e for r in task["Retry"] for e in r["ErrorEquals"]}
        assert {"Conflict", "StoreError"} <= retried, f"{name}: a lost race or a store hiccup ends nothing"
        assert task["TimeoutSeconds"] == load(ASL_PATH)["States"]["Create"]["TimeoutSeconds"]


def test_each_wave_is_a_map_with_the_records_concurrency_inline_up_to_the_limit_and_distributed_above() -> None:
    found = maps()
    assert set(found) == {"InlineWave", "DistributedWave"}
    for state in found.values():
        assert state["MaxConcurrencyPath"] == "$.next.max_concurrency" and "MaxConcurrency" not in state
        assert state["ItemsPath"] == "$.next.items"
        assert state["ResultPath"] is None, "the iterations' results never grow the campaign's payload"
    assert found["InlineWave"]["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    distributed = found["DistributedWave"]
    assert distributed["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert distributed["ToleratedFailureCountPath"] == "$.next.tolerated_failure_count"
    assert "ToleratedFailurePercentagePath" not in found["InlineWave"], "Distributed Map only"
    route = load(CAMPAIGN_ASL_PATH)["States"]["Route"]["Choices"]
    first = route[0]
    assert first["Next"] == "DistributedWave"
    assert {"Variable": "$.next.distributed", "BooleanEquals": True} in first["And"]
    assert 0 < INLINE_LIMIT <= INLINE_CONCURRENCY_CAP


def test_each_target_runs_the_operation_machine_named_by_its_operation_id_and_every_end_is_recorded() -> None:
    states = all_states(load(CAMPAIGN_ASL_PATH))
    start = states["StartTarget"]
    assert start["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    assert start["Parameters"]["StateMachineArn"] == "${OperationMachineArn}"
    assert start["Parameters"]["Name.$"] == "$.gate.execution_name"  # campaign_gate: the operation id
    assert start["Parameters"]["Input.$"] == "$.gate.input"
    assert "TimeoutSeconds" not in start, "an operation may wait days for a person"
    catches = start["Catch"]
    assert catches[0]["ErrorEquals"] == ["StepFunctions.ExecutionAlreadyExistsException"]
    assert catches[-1]["ErrorEquals"] == ["States.ALL"]
    for catch in catches:
        assert "TargetEnded" in reachable(catch["Next"], states, stop=lambda s: s == "TargetEnded")
    assert "TargetEnded" in reachable(start["Next"], states, stop=lambda s: s == "TargetEnded")
    gate = states["Gate"]["Parameters"]
    assert gate["operation_id.$"] == "$.item.operation_id"
    assert gate["params"]["machine_arn"] == "${OperationMachineArn}"


def test_the_operation_machine_carries_the_campaign_id_into_its_notices_and_hand_offs() -> None:
    states = load(ASL_PATH)["States"]
    assert states["Defaults"]["Result"]["campaign_id"] is None
    rebuilt = [n for n, s in states.items() if "max_iterations.$" in json.dumps(s.get("Parameters", {}))]
    assert len(rebuilt) >= 6
    for name in rebuilt:
        params: Any = states[name]["Parameters"]
        params = params.get("Input", params)  # HandOff's start input
        assert "campaign_id.$" in params, f"{name} drops the campaign id"
    detail = states["Notify"]["Parameters"]["Entries"][0]["Detail"]
    assert detail["campaign_id.$"] == "$.campaign_id"


def test_the_template_deploys_the_campaign_machine_with_its_role_and_log_group() -> None:
    template = load_yaml_template()
    resources = template["Resources"]
    machine = resources["CampaignStateMachine"]["Properties"]
    assert (TEMPLATE_PATH.parent / machine["DefinitionUri"]).resolve() == CAMPAIGN_ASL_PATH.resolve()
    assert machine["DefinitionSubstitutions"] == {
        "LambdaArn": {"Fn::GetAtt": ["EngineFunction", "Arn"]},
        "OperationMachineArn": {"Ref": "StateMachine"},
    }
    assert machine["Type"] == "STANDARD" and machine["Role"] == {"Fn::GetAtt": ["CampaignMachineRole", "Arn"]}
    assert machine["Logging"]["IncludeExecutionData"] is False
    [destination] = machine["Logging"]["Destinations"]
    assert destination["CloudWatchLogsLogGroup"]["LogGroupArn"] == {"Fn::GetAtt": ["CampaignMachineLogGroup", "Arn"]}
    assert resources["CampaignMachineLogGroup"]["Type"] == "AWS::Logs::LogGroup"
    # named after the operation machine, as the IAM files expect (${StateMachineName}-campaign)
    assert machine["Name"] == {"Fn::Sub": "${AWS::StackName}-machine-campaign"}
    assert template["Outputs"]["CampaignStateMachineArn"]["Value"] == {"Ref": "CampaignStateMachine"}
