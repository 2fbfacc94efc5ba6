"""`run` and `start-execution` as an apply: the plan with its summary, a confirmation, then exactly that plan.

A person at a terminal is asked (default No); off a terminal only `--yes` goes on; a plan saved with
`plan --out` runs under its own id and names, or is refused when the cluster changed since.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result

from rds_maint.actions import ACTIONS
from rds_maint.actions.polling import EXPECTED_SECONDS
from rds_maint.cli import plan_view
from rds_maint.planning.estimate import TRANSITIONS
from tests.helpers.upgrade import TARGET, seed
from tests.helpers.world import CLASS_CHANGE_FLAGS, CLUSTER, REGION, World

RUN = list(CLASS_CHANGE_FLAGS)


def cli(world: World, *args: str, stdin: str | None = None) -> Result:
    return world.cli([*args, "--store", world.store_url], input=stdin)


@pytest.fixture
def at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_view, "stdin_is_terminal", lambda: True)


def test_a_terminal_is_asked_and_no_changes_nothing(world: World, cluster_1w2r: list[str], at_a_terminal: None) -> None:
    result = cli(world, "run", *RUN, stdin="n\n")

    assert result.exit_code == 1, result.output
    assert "Create and run this operation? [y/N]" in result.output
    assert "Write interruptions: 2 failovers of about 35 s each" in result.output
    assert "Not applied; nothing was changed." in result.output
    assert world.store.list_operations() == []
    assert world.mutating_calls() == []


def test_a_terminal_that_says_yes_runs_the_plan_it_was_shown(
    world: World, cluster_1w2r: list[str], at_a_terminal: None
) -> None:
    expected = json.loads(cli(world, "plan", *RUN, "--output", "json").output)["summary"]["expected_seconds"]
    began = world.clock.now()
    result = cli(world, "run", *RUN, stdin="y\n")

    assert result.exit_code == 0, result.output
    [op] = world.store.list_operations()
    assert f"Plan {op.id}: instance_type_change on {CLUSTER}" in result.output
    assert op.state.value == "completed"
    assert {m.instance_class for m in world.sim.cluster_view(CLUSTER).members.values()} == {"db.r6g.xlarge"}
    # the estimate is about what the simulated AWS took (its durations carry jitter and poll intervals)
    took = (world.clock.now() - began).total_seconds()
    assert 0.7 * expected < took < 1.4 * expected, (took, expected)


@pytest.mark.parametrize("command", ["run", "start-execution"])
def test_off_a_terminal_without_yes_is_refused_before_anything(
    world: World, cluster_1w2r: list[str], command: str
) -> None:
    extra = ["--state-machine-arn", "arn:aws:states:us-east-1:123456789012:stateMachine:rds-maint"]
    result = cli(world, command, *RUN, *(extra if command == "start-execution" else []))

    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1].endswith("no one is at a terminal to confirm it: pass --yes")
    assert world.store.list_operations() == []
    assert world.mutating_calls() == []


def test_yes_runs_without_asking(world: World, cluster_1w2r: list[str]) -> None:
    result = cli(world, "run", *RUN, "--yes")

    assert result.exit_code == 0, result.output
    assert "[y/N]" not in result.output
    [op] = world.store.list_operations()
    assert op.state.value == "completed"


def test_a_saved_plan_runs_with_the_ids_and_names_it_showed(
    world: World, cluster_1w2r: list[str], tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    planned = cli(world, "plan", *RUN, "--out", str(plan_file))
    assert planned.exit_code == 0, planned.output
    assert f"rds-maint run --plan {plan_file}" in planned.output
    saved = json.loads(plan_file.read_text())
    assert saved["format"] == 1 and saved["region"] == REGION and saved["request"]["cluster_id"] == CLUSTER
    assert world.store.list_operations() == []

    result = cli(world, "run", "--plan", str(plan_file), "--yes")

    assert result.exit_code == 0, result.output
    [op] = world.store.list_operations()
    assert op.id == saved["operation_id"]
    assert [(s.id, s.name, s.action, s.parameters) for s in op.steps] == [
        (s["id"], s["name"], s["action"], s["parameters"]) for s in saved["steps"]
    ]
    [temp] = [s["parameters"]["instance_id"] for s in saved["steps"] if s["action"] == "create_temp_instance"]
    assert [c.params["DBInstanceIdentifier"] for c in world.sim.successful_calls("CreateDBInstance")] == [temp]

    again = cli(world, "run", "--plan", str(plan_file), "--yes")
    assert again.exit_code == 2
    assert f"operation '{op.id}' already exists" in again.output


def test_a_saved_plan_is_refused_when_the_cluster_changed(
    world: World, cluster_1w2r: list[str], tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert cli(world, "plan", *RUN, "--out", str(plan_file)).exit_code == 0
    world.rds_client().create_db_instance(
        DBInstanceIdentifier="orders-prod-reader-3",
        DBClusterIdentifier=CLUSTER,
        DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql",
    )
    world.clock.sleep(3600)
    calls_before = world.mutating_calls()

    result = cli(world, "run", "--plan", str(plan_file), "--yes")

    assert result.exit_code == 2, result.output
    assert "the cluster changed since it was planned" in result.output
    assert "step 1 (check_cluster) differs: members [" in result.output and "'orders-prod-reader-3']" in result.output
    assert world.store.list_operations() == []
    assert world.mutating_calls() == calls_before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a plan file (not JSON"),
        ("[]", "not a plan file (expected a JSON object"),
        ('{"format": 9}', "unknown plan format 9"),
        ('{"format": 1, "operation_id": "x", "request": {}, "region": "us-east-1", "steps": 3}', "'steps' must be"),
    ],
)
def test_a_garbled_plan_file_is_one_precise_line(
    world: World, cluster_1w2r: list[str], tmp_path: Path, content: str, message: str
) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(content)

    result = cli(world, "run", "--plan", str(plan_file), "--yes")

    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert world.store.list_operations() == []


def test_summary_of_an_instance_type_change_on_one_writer_and_two_readers(
    world: World, cluster_1w2r: list[str]
) -> None:
    result = cli(world, "plan", *RUN, "--output", "json")

    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    summary = plan["summary"]
    assert summary["steps"] == len(plan["steps"])
    assert [i["kind"] for i in summary["write_interruptions"]] == ["failover", "failover"]
    assert summary["temp_instance"]["instance_class"] == "db.r6g.xlarge"
    # three class changes of about 10 min each (x1.3 for the larger class) and a temp instance to create
    assert 35 * 60 < summary["expected_seconds"] < 60 * 60
    assert plan["operation_id"].startswith(CLUSTER)
    text = cli(world, "plan", *RUN).output
    assert "Write interruptions: 2 failovers of about 35 s each" in text
    assert "Temporary instance: a db.r6g.xlarge writer for about" in text


def test_summary_of_an_engine_upgrade(world: World) -> None:
    seed(world)
    args = ["--type", "engine_upgrade", "--cluster", CLUSTER, "--region", REGION]
    result = cli(world, "plan", *args, "--param", f"target_engine_version={TARGET}")

    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Write interruptions: 1 switchover of about 1 min" in text
    assert "Temporary instance" not in text
    assert "expected duration about" in text


def test_every_step_action_has_an_estimate() -> None:
    """An Aurora action is in the table; a newer one says on its step kind what it waits for (if anything)."""
    for action, implementation in ACTIONS.items():
        transition = TRANSITIONS.get(action, implementation.kind.transition)
        assert action in TRANSITIONS or transition is None or transition in EXPECTED_SECONDS, action
    assert set(TRANSITIONS) <= set(ACTIONS)


@pytest.mark.parametrize("command", ["plan", "create", "run", "start-execution"])
def test_help_shows_an_example(world: World, command: str) -> None:
    result = world.cli([command, "--help"])

    assert result.exit_code == 0
    assert f"\n    rds-maint {command} --" in result.output
