"""The shipped IAM policy files (iam/) as the offline evaluator reads them: placeholders filled in with the
test account's values, so a statement's ARNs match the requests the simulator records."""

from __future__ import annotations

import json

from sfn_harness.machine import FUNCTION_NAME, MACHINE_NAME
from tests.helpers.artifacts import IAM_DIR
from tests.helpers.iam_evaluator import Policy, substitute
from tests.helpers.iam_recorder import ACCOUNT
from tests.helpers.world import REGION

__all__ = ["PLACEHOLDERS", "lambda_policies", "shipped_policy"]

PLACEHOLDERS = {
    "Partition": "aws",
    "Region": REGION,
    "AccountId": ACCOUNT,
    "StateBucket": "rds-maint-state",
    "StatePrefix": "rds-maint",
    "TableName": "rds-maint-operations",
    "FunctionName": FUNCTION_NAME,  # the harness's names: the ARNs its runs record carry them
    "StateMachineName": MACHINE_NAME,
    "OptInTagValue": "true",
}


def shipped_policy(name: str) -> Policy:
    """iam/NAME with its placeholders filled in."""
    document: Policy = json.loads((IAM_DIR / name).read_text(encoding="utf-8"))
    return substitute(document, PLACEHOLDERS)


def lambda_policies(*, opt_in: bool = False) -> list[Policy]:
    """What the engine's Lambda role carries: its policy, and the opt-in policy where the deployment adds it."""
    return [shipped_policy("lambda-policy.json")] + ([shipped_policy("opt-in-policy.json")] if opt_in else [])
