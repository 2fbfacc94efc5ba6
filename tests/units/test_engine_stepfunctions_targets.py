"""Step Functions start inputs and running-execution look-ups for an operation on an RDS DB instance."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rds_maint import stepfunctions
from rds_maint.errors import BadInput

__all__: list[str] = []

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:rds-maint-machine"


class FakeSfn:
    """Running executions with their start inputs, as list_executions/describe_execution answer them."""

    def __init__(self, inputs: dict[str, dict[str, Any]]) -> None:
        self.inputs = inputs

    def list_executions(self, **_: Any) -> dict[str, Any]:
        return {"executions": [{"executionArn": f"{MACHINE}:{n}", "name": n} for n in self.inputs]}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"input": json.dumps(self.inputs[executionArn.rpartition(":")[2]]), "status": "RUNNING"}


def test_an_instance_operations_start_input_names_the_instance_and_no_cluster() -> None:
    data = stepfunctions.start_input(None, "orders-db-1", None, instance_id="orders-db")
    assert data == {"operation_id": "orders-db-1", "instance_id": "orders-db"}
    assert stepfunctions.start_input(None, "orders-prod-1", "orders-prod") == {
        "operation_id": "orders-prod-1",
        "cluster_id": "orders-prod",
    }
    with pytest.raises(BadInput, match="not both"):
        stepfunctions.start_input(None, "op-1", "orders-prod", instance_id="orders-db")


def test_a_new_instance_operation_is_named_after_the_instance() -> None:
    name = stepfunctions.new_operation_name({"type": "instance_cycle", "instance_id": "orders-db", "params": {}})
    assert name.startswith("orders-db-instance_cycle-")


def test_running_executions_on_a_db_instance_are_found_and_the_refusal_names_it() -> None:
    client = FakeSfn(
        {
            "new-on-instance": {"params": {"type": "instance_cycle", "instance_id": "orders-db"}},
            "resume-on-instance": {"operation_id": "orders-db-2", "instance_id": "orders-db"},
            "on-other": {"params": {"type": "instance_cycle", "instance_id": "payments-db"}},
        }
    )
    found = stepfunctions.find_running(client, MACHINE, "orders-db", lambda _op: None)
    assert sorted(e["name"] for e, _ in found) == ["new-on-instance", "resume-on-instance"]

    data = stepfunctions.start_input({"type": "instance_cycle", "instance_id": "orders-db", "params": {}})
    report = stepfunctions.start(client, MACHINE, data, "orders-db", lambda _op: None)

    assert not report.started and report.conflict
    assert (report.note or "").startswith("instance orders-db is busy: execution")
