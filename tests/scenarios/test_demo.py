"""`rds-maint demo --type ...`: each operation runs to completion on the embedded simulator."""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rds_maint.cli import main
from rds_maint.demo import SCENARIOS
from tests.helpers.rehearsal import offline_rehearsal


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A demo never reaches the network, and the environment it rewrites is put back for the next test."""
    with offline_rehearsal(monkeypatch):
        yield


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


def test_the_command_the_demo_prints_carries_its_operation_on_without_aws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []

    def ctrl_c_on_the_third_wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(time, "sleep", ctrl_c_on_the_third_wait)
        demo = CliRunner().invoke(
            main, ["demo", "--type", "instance_cycle", "--readers", "1", "--dir", str(tmp_path / "account")]
        )
    assert demo.exit_code == 130, demo.output
    printed = re.search(r"[Cc]arry on with: (rds-maint run .+)$", demo.output, re.MULTILINE)
    assert printed is not None, demo.output
    copied = shlex.split(printed.group(1))[1:]  # as a person pastes it, without the program name
    assert copied[-2:] == ["--simulate", str(tmp_path / "account")]

    carried_on = CliRunner().invoke(main, copied)
    assert carried_on.exit_code == 0, carried_on.output
    shown = CliRunner().invoke(main, ["sim", "show", "--dir", str(tmp_path / "account")])
    members = [line.split() for line in shown.output.splitlines() if line.startswith("    ")]
    assert [(m[0], m[3], m[5]) for m in members] == [
        ("demo-aurora-pg-instance-1", "writer", "in-sync"),
        ("demo-aurora-pg-instance-2", "reader", "in-sync"),
    ]
