"""`list`, `status` and `events` as an operator reads them: a header, who drives what, times in UTC, who did it."""

from __future__ import annotations

import json

import pytest
from click.testing import Result

from rds_maint.actor import answering_actor, sts_client
from rds_maint.cli.times import duration
from rds_maint.model import Operation, StepState
from tests.helpers.steered_clock import SleepHook, cli_with, ctrl_c
from tests.helpers.world import CLUSTER, REGION, World

OTHER = "billing-prod"
HEADER = ["ID", "TYPE", "TARGET", "REGION", "STATE", "DRIVER", "AGE", "STEP"]


def actor() -> str:
    """Who the CLI records as asking in these tests: the identity of the fake credentials (moto's STS)."""
    return answering_actor(lambda: sts_client(None, "us-east-1"))


def cli(world: World, *args: str) -> Result:
    return world.cli([*args, "--store", world.store_url])


def created(world: World, cluster: str = CLUSTER) -> Operation:
    made = cli(
        world,
        "create",
        "--type",
        "instance_type_change",
        "--cluster",
        cluster,
        "--region",
        REGION,
        "--param",
        "target_instance_type=db.r6g.xlarge",
    )
    assert made.exit_code == 0, made.output
    return next(o for o in world.store.list_operations() if o.cluster_id == cluster)


def rows(listed: Result) -> list[list[str]]:
    """The table's lines, cut at its columns (a column starts where the header's title does)."""
    lines = listed.output.splitlines()
    starts = [lines[0].index(title) for title in HEADER]
    ends = [*starts[1:], None]
    return [[line[a:b].strip() for a, b in zip(starts, ends, strict=True)] for line in lines]


def test_list_has_a_header_and_tells_a_ctrl_c_run_from_a_driven_one(world: World, cluster_1w2r: list[str]) -> None:
    world.sim.seed_cluster(OTHER, engine="aurora-postgresql", engine_version="15.4", instance_class="db.r6g.large")
    done = created(world, OTHER)
    assert cli(world, "run", done.id).exit_code == 0
    stopped = created(world)
    interrupted = cli_with(world, SleepHook(world.clock, ctrl_c), "run", stopped.id)  # Ctrl-C in its first wait
    assert interrupted.exit_code == 130, interrupted.output
    last_save = world.store.load(stopped.id).updated_at

    table = rows(cli(world, "list"))
    assert table[0] == HEADER
    by_id = {row[0]: row for row in table[1:]}
    assert by_id[stopped.id] == [
        stopped.id,
        "instance_type_change",
        CLUSTER,
        REGION,
        "running",
        "active",  # saved a moment ago: nothing can tell yet that nobody drives it
        duration((world.clock.now() - stopped.created_at).total_seconds()),
        "2/9 create_temp_instance",
    ]
    assert by_id[done.id][4:6] == ["completed", "-"] and by_id[done.id][7] == "-"

    world.clock.advance(20 * 60)  # longer than any driver waits between two looks
    later = {row[0]: row for row in rows(cli(world, "list"))[1:]}
    assert later[stopped.id][4:6] == [f"running (not driven since {last_save:%H:%M} UTC)", "none"]

    as_json = {o["id"]: o for o in json.loads(cli(world, "list", "--output", "json").output)}
    summary = as_json[stopped.id]
    assert summary["state"] == "running" and summary["driver"] == "none"
    assert summary["not_driven_since"] == last_save.isoformat()
    assert summary["target"] == CLUSTER and summary["region"] == REGION and summary["step_number"] == 2
    assert summary["age_seconds"] == int((world.clock.now() - stopped.created_at).total_seconds())
    assert as_json[done.id]["driver"] == "-" and as_json[done.id]["not_driven_since"] is None


def test_list_shows_a_pause_waiting_for_step_functions_as_driven_by_it(world: World, cluster_1w2r: list[str]) -> None:
    op = created(world)
    assert cli(world, "run", op.id, "--pause-before", "failback").exit_code == 3
    world.engine.record_intervention(op.id, "token-" + "x" * 40, "failback", 6, None)
    [row] = rows(cli(world, "list"))[1:]
    assert row[4:6] == ["paused", "step functions"]


def test_status_shows_start_elapsed_and_each_step_duration_in_utc(world: World, cluster_1w2r: list[str]) -> None:
    op = created(world)
    assert cli(world, "run", op.id, "--pause-before", "failback").exit_code == 3
    world.clock.advance(90)
    paused = world.store.load(op.id)
    assert paused.started_at is not None

    shown = cli(world, "status", op.id)
    assert shown.exit_code == 3, shown.output
    out = shown.output
    assert f"created:   {paused.created_at:%Y-%m-%d %H:%M:%S} UTC" in out
    elapsed = duration((world.clock.now() - paused.started_at).total_seconds())
    assert f"started:   {paused.started_at:%Y-%m-%d %H:%M:%S} UTC (elapsed {elapsed})" in out
    for number, step in enumerate(paused.steps, start=1):
        line = next(line for line in out.splitlines() if f" {number:2d}. {step.name}:" in line)
        if step.state is StepState.COMPLETED:
            assert step.started_at and step.completed_at
            assert line.endswith(f"(took {duration((step.completed_at - step.started_at).total_seconds())})")
        else:
            assert "took" not in line
    created_temp = paused.steps[1]
    assert created_temp.started_at and created_temp.completed_at
    assert (created_temp.completed_at - created_temp.started_at).total_seconds() > 60, "a temp instance takes minutes"

    assert cli(world, "resume", op.id, "--action", "continue").exit_code == 0
    assert cli(world, "run", op.id).exit_code == 0
    finished = world.store.load(op.id)
    assert finished.completed_at and finished.started_at
    total = duration((finished.completed_at - finished.started_at).total_seconds())
    out = cli(world, "status", op.id).output
    assert f"(took {total})" in out and f"ended:     {finished.completed_at:%Y-%m-%d %H:%M:%S} UTC" in out
    assert "elapsed" not in out


def test_events_show_time_with_zone_and_who_asked(world: World, cluster_1w2r: list[str]) -> None:
    op = created(world)
    assert cli(world, "pause", op.id, "--comment", "wait for the release freeze").exit_code == 0
    shown = cli(world, "events", op.id)
    assert shown.exit_code == 0
    header, *lines = shown.output.splitlines()
    assert header.split() == ["TIME", "EVENT", "ACTOR", "MESSAGE"]
    asked = next(line for line in lines if "pause_requested" in line)
    assert asked.startswith(f"{world.clock.now():%Y-%m-%d %H:%M:%S} UTC")
    assert f" {actor()} " in asked and "wait for the release freeze" in asked
    created_line = next(line for line in lines if "operation_created" in line)
    assert " - " in created_line, "the engine's own events have no actor"

    [event] = [e for e in json.loads(cli(world, "events", op.id, "--output", "json").output) if e["actor"]]
    assert event["type"] == "pause_requested" and event["actor"] == actor()
    assert event["timestamp"].endswith(("Z", "+00:00"))


@pytest.mark.parametrize("command", ["status", "list", "events", "pause"])
def test_help_has_an_example(world: World, command: str) -> None:
    shown = world.cli([command, "--help"])
    assert shown.exit_code == 0
    example = shown.output.split("Example", 1)[1]
    assert f"rds-maint {command}" in example
