"""`rds-maint demo --type ...`: each operation runs to completion on the embedded simulator."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from rds_maint.cli import main
from rds_maint.demo import SCENARIOS


@pytest.mark.parametrize(
    ("op_type", "after"),
    [
        ("storage_type_change", "is available; storage aurora-iopt1"),
        ("instance_cycle", "parameters in-sync"),
    ],
)
def test_demo_runs_each_operation_to_completion(op_type: str, after: str) -> None:
    result = CliRunner().invoke(main, ["demo", "--type", op_type, "--readers", "1", "--speed", "1e9"])
    assert result.exit_code == 0, result.output
    assert f"$ rds-maint run --type {op_type} --cluster demo-aurora-pg" in result.output
    assert "completed in" in result.output
    assert after in result.output.split("After:")[1]
    if op_type == "instance_cycle":
        assert "pending-reboot" not in result.output.split("After:")[1]


def test_demo_knows_every_scenario_and_refuses_what_does_not_apply() -> None:
    assert {"instance_type_change", "storage_type_change", "instance_cycle"} <= set(SCENARIOS)
    unknown = CliRunner().invoke(main, ["demo", "--type", "resize_everything"])
    assert unknown.exit_code == 2 and "choose one of instance_type_change" in unknown.output
    no_target = CliRunner().invoke(main, ["demo", "--type", "instance_cycle", "--target", "db.r6g.xlarge"])
    assert no_target.exit_code == 2 and "--target does not apply to demo --type instance_cycle" in no_target.output
