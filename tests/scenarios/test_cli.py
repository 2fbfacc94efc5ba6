"""The CLI as a person uses it: progress, pauses that say how to answer, exit codes."""

from __future__ import annotations

import json

from click.testing import Result

from tests.helpers.world import CLASS_CHANGE_FLAGS, CLUSTER, World

RUN = list(CLASS_CHANGE_FLAGS)


def cli(world: World, *args: str) -> Result:
    return world.cli([*args, "--store", world.store_url])


def test_run_shows_progress_and_completes(world: World, cluster_1w2r: list[str]) -> None:
    result = cli(world, "run", *RUN, "--yes")
    assert result.exit_code == 0, result.output
    assert "create_temp_instance" in result.output
    assert "Failing over orders-prod" in result.output
    assert "completed" in result.output
    view = world.sim.cluster_view(CLUSTER)
    assert {m.instance_class for m in view.members.values()} == {"db.r6g.xlarge"}
    [op] = world.store.list_operations()

    status = cli(world, "status", op.id)
    assert status.exit_code == 0 and "completed" in status.output and "[x]" in status.output
    listed = cli(world, "list", "--output", "json")
    assert json.loads(listed.output)[0]["state"] == "completed"
    events = cli(world, "events", op.id)
    assert "Created temp instance" in events.output


def test_plan_changes_nothing(world: World, cluster_1w2r: list[str]) -> None:
    result = cli(world, "plan", *RUN)
    assert result.exit_code == 0, result.output
    assert "failover_to_temp" in result.output and "Nothing was changed." in result.output
    assert world.store.list_operations() == []
    assert world.mutating_calls() == []


def test_pause_prints_the_reason_and_the_exact_answer_then_resume_and_run(
    world: World, cluster_1w2r: list[str]
) -> None:
    paused = cli(world, "run", *RUN, "--yes", "--pause-before", "failback")
    assert paused.exit_code == 3, paused.output
    [op] = world.store.list_operations()
    assert "PAUSED: Paused before step 'failback'" in paused.output
    assert f"rds-maint resume {op.id} --action continue --store {world.store_url}" in paused.output

    answered = cli(world, "resume", op.id, "--action", "continue", "--comment", "checked the app")
    assert answered.exit_code == 0, answered.output
    assert f"rds-maint run {op.id}" in answered.output
    finished = cli(world, "run", op.id)
    assert finished.exit_code == 0, finished.output
    assert world.sim.cluster_view(CLUSTER).writer == f"{CLUSTER}-instance-1"
    assert "checked the app" in cli(world, "events", op.id).output


def test_abort_from_the_cli_ends_failed_with_exit_1(world: World, cluster_1w2r: list[str]) -> None:
    cli(world, "run", *RUN, "--yes", "--pause-before", "modify_class:orders-prod-instance-1")
    [op] = world.store.list_operations()
    answered = cli(world, "resume", op.id, "--action", "abort", "--run")
    assert answered.exit_code == 1, answered.output
    assert "aborted by operator" in answered.output
    view = world.sim.cluster_view(CLUSTER)
    assert view.writer == f"{CLUSTER}-instance-1"
    assert len(view.members) == 3


def test_json_output_of_run_is_the_step_result(world: World, cluster_1w2r: list[str]) -> None:
    result = cli(world, "run", *RUN, "--yes", "--output", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["outcome"] == "completed" and data["completed"] is True
