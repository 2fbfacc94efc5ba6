"""A rehearsal session as a person types it: `sim create`, then plan, run, Ctrl-C, resume, events, status
against the account in a directory (`--simulate DIR`), each command a separate invocation, some in a
separate process, and nothing ever sent to AWS."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rds_sim.account import open_account
from tests.helpers.rehearsal import cli, offline_rehearsal

REPO = Path(__file__).resolve().parents[2]
CLUSTER = "prod-pg"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No request reaches the network, and the environment the commands rewrite is put back."""
    with offline_rehearsal(monkeypatch):
        yield


@pytest.fixture
def account(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "rehearsal"
    yield directory


def in_process_of_its_own(*args: str) -> subprocess.CompletedProcess[str]:
    """The command in a new Python process: only what the account saved in its directory is shared."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-c", "from rds_maint.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def test_a_whole_rehearsal_session_survives_between_commands_and_processes(
    account: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = in_process_of_its_own(
        "sim", "create", "--dir", str(account), "--cluster", CLUSTER, "--readers", "1", "--pending-reboot",
        "--speed", "1e9",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert f"added {CLUSTER}" in made.stdout
    sim = ("--simulate", str(account))

    plan = cli("plan", "--type", "instance_cycle", "--cluster", CLUSTER, "--param", "only_pending_reboot=true", *sim)
    assert plan.exit_code == 0, plan.output
    assert "Nothing was changed." in plan.output

    run = cli(
        "run", "--yes", "--type", "instance_cycle", "--cluster", CLUSTER, "--param", "only_pending_reboot=true",
        "--pause-before", "failback", *sim,
    )  # fmt: skip
    assert run.exit_code == 3, run.output
    op_id = re.search(r"rds-maint resume (\S+) --action continue --simulate " + re.escape(str(account)), run.output)
    assert op_id is not None, run.output
    operation = op_id.group(1)

    paused = json.loads(in_process_of_its_own("sim", "show", "--dir", str(account), "--output", "json").stdout)
    members = paused["clusters"][0]["members"]
    assert [m["role"] for m in members if m["temporary"]] == ["writer"]  # the temp instance holds the writer

    answered = cli("resume", operation, "--action", "continue", *sim)
    assert answered.exit_code == 0, answered.output
    assert f"rds-maint run {operation} --simulate {account}" in answered.output

    def ctrl_c(_seconds: float) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(time, "sleep", ctrl_c)
        interrupted = cli("run", operation, *sim)
    assert interrupted.exit_code == 130, interrupted.output
    assert f"Carry on with: rds-maint run {operation} --simulate {account}" in interrupted.output

    finished = cli("run", operation, *sim)
    assert finished.exit_code == 0, finished.output

    events = cli("events", operation, *sim)
    assert events.exit_code == 0 and "failback" in events.output.lower(), events.output
    status = cli("status", operation, "--output", "json", *sim)
    assert status.exit_code == 0 and json.loads(status.output)["operation"]["state"] == "completed", status.output

    after = in_process_of_its_own("sim", "show", "--dir", str(account))
    assert after.returncode == 0, after.stderr
    lines = [line.split() for line in after.stdout.splitlines() if line.startswith("    ")]
    assert [(row[0], row[3], row[5]) for row in lines] == [
        (f"{CLUSTER}-instance-1", "writer", "in-sync"),
        (f"{CLUSTER}-instance-2", "reader", "in-sync"),
    ]


def test_sim_create_adds_clusters_and_refuses_what_it_cannot_make(account: Path) -> None:
    assert cli("sim", "create", "--dir", str(account), "--cluster", "one", "--readers", "0").exit_code == 0
    assert cli("sim", "create", "--dir", str(account), "--cluster", "two", "--readers", "3").exit_code == 0
    again = cli("sim", "create", "--dir", str(account), "--cluster", "one")
    assert again.exit_code == 2 and "already has a cluster one" in again.output
    readers = cli("sim", "create", "--dir", str(account), "--cluster", "three", "--readers", "16")
    assert readers.exit_code == 2 and "0 to 15 readers" in readers.output
    version = cli("sim", "create", "--dir", str(account), "--cluster", "three", "--version", "9.9")
    assert version.exit_code == 2 and "choose one of" in version.output and "15.4" in version.output
    engine = cli("sim", "create", "--dir", str(account), "--cluster", "three", "--engine", "oracle")
    assert engine.exit_code == 2 and "aurora-postgresql" in engine.output
    name = cli("sim", "create", "--dir", str(account), "--cluster", "bad name!")
    assert name.exit_code == 2 and "a cluster name starts with a letter" in name.output
    half = cli("sim", "create", "--dir", str(account), "--cluster", "three", "--instance-class", "db.t9.huge")
    assert half.exit_code == 2 and "db.t9.huge is not orderable" in half.output
    shown = json.loads(cli("sim", "show", "--dir", str(account), "--output", "json").output)
    assert {c["cluster_id"]: len(c["members"]) for c in shown["clusters"]} == {"one": 1, "two": 4}


def test_what_would_reach_aws_is_refused_under_simulate(account: Path) -> None:
    assert cli("sim", "create", "--dir", str(account), "--cluster", CLUSTER).exit_code == 0
    sim = ("--simulate", str(account))
    s3 = cli("list", "--store", "s3://bucket/prefix", *sim)
    assert s3.exit_code == 2 and "would be in AWS" in s3.output
    respond = cli("respond", "some-op", "--action", "continue", *sim)
    assert respond.exit_code == 2 and "rds-maint resume OPERATION_ID" in respond.output
    missing = cli("list", "--simulate", str(account.parent / "nowhere"))
    assert missing.exit_code == 2 and "rds-maint sim create --dir" in missing.output


def test_a_second_command_on_a_busy_account_is_told_so(account: Path) -> None:
    assert cli("sim", "create", "--dir", str(account), "--cluster", CLUSTER).exit_code == 0
    with open_account(account):
        busy = in_process_of_its_own("list", "--simulate", str(account))
    assert busy.returncode == 1, busy.stderr
    assert f"the rehearsal account in {account} is in use by another command (process {os.getpid()})" in busy.stderr


def test_the_environment_variable_chooses_the_account_too(account: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("sim", "create", "--dir", str(account), "--cluster", CLUSTER).exit_code == 0
    monkeypatch.setenv("RDS_MAINT_SIMULATE", str(account))
    plan = cli("plan", "--type", "instance_type_change", "--cluster", CLUSTER, "--param",
               "target_instance_type=db.r6g.xlarge")  # fmt: skip
    assert plan.exit_code == 0, plan.output
    assert f": instance_type_change on {CLUSTER} in us-east-1" in plan.output
