"""`rds-maint campaign plan` and `campaign run` as a person types them: the plan, confirmation, refusals,
the progress lines, the exit codes, carrying on after Ctrl-C, and a rehearsal account (--simulate)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rds_maint.campaign import planner, schedule
from rds_maint.campaign.schedule import wave_of_each
from rds_maint.campaign_model import (
    Campaign,
    CampaignRequest,
    CampaignTarget,
    RequestRate,
    TargetState,
    target_operation_id,
)
from rds_maint.cli import campaign as campaign_cli
from rds_maint.cli import campaign_plan_view, campaign_view, main
from rds_maint.cli.campaign_view import status_text
from rds_maint.cli.plan_view import duration_text
from rds_maint.progress.live import CLEAR
from tests.helpers.rehearsal import offline_rehearsal
from tests.helpers.world import REGION, World

TARGET_CLASS = "db.r6g.xlarge"


def seed(world: World, count: int) -> list[str]:
    ids = [f"shop-{n:02d}" for n in range(count)]
    for cluster in ids:
        world.sim.seed_cluster(cluster, readers=1)
    return ids


def campaign_flags(clusters: list[str], *extra: str) -> list[str]:
    flags = ["--type", "instance_type_change", "--region", REGION, "--param", f"target_instance_type={TARGET_CLASS}"]
    for cluster in clusters:
        flags += ["--cluster", cluster]
    return [*flags, "--max-concurrency", "2", *extra]


def cli(world: World, *args: str) -> Result:
    return world.cli([*args, "--store", world.store_url])


def nothing_written(world: World) -> None:
    assert world.store.campaigns() == []
    assert world.store.list_operations() == []
    assert world.mutating_calls() == []


def classes(world: World, cluster: str) -> set[str]:
    return {m.instance_class for m in world.sim.cluster_view(cluster).members.values()}


def test_plan_shows_every_target_and_the_expected_duration_and_changes_nothing(world: World) -> None:
    clusters = seed(world, 3)
    result = cli(world, "campaign", "plan", *campaign_flags(clusters, "--id", "c-plan"))
    assert result.exit_code == 0, result.output
    request = CampaignRequest(
        type="instance_type_change",
        target_ids=clusters,
        region=REGION,
        params={"target_instance_type": TARGET_CLASS},
        max_concurrency=2,
    )
    plan = planner.plan_campaign(world.engine, request, "c-plan")
    assert result.output == campaign_plan_view.plan_text(plan) + "\nNothing was changed.\n"
    for n, cluster in enumerate(clusters):
        assert cluster in result.output and f"c-plan-{n + 1:04d}" in result.output
    assert all(t.expected_seconds > 0 for t in plan.targets) and plan.expected_seconds > 0
    nothing_written(world)

    as_json = cli(world, "campaign", "plan", *campaign_flags(clusters, "--id", "c-plan"), "--output", "json")
    shown, planned = json.loads(as_json.output), json.loads(json.dumps(campaign_plan_view.plan_document(plan)))
    # the same but for when each planning began (three plannings one after the other, on the same clock)
    del shown["planning"]["started_at"], planned["planning"]["started_at"]
    assert shown == planned
    nothing_written(world)


def test_planning_on_a_terminal_tells_its_progress_on_stderr_and_keeps_the_json_on_stdout_clean(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    clusters = seed(world, 12)
    flags = campaign_flags(clusters, "--id", "c-plan")
    monkeypatch.setattr(campaign_cli, "stderr_is_terminal", lambda: True)
    result = cli(world, "campaign", "plan", *flags, "--output", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # the plan alone
    told = result.stderr.splitlines()
    assert "planned 10 of 12 targets..." in told
    assert all(re.fullmatch(r"planned \d+ of 12 targets\.\.\.", line) for line in told), told
    # planning was paced by the budget (2 req/s) on the simulator's clock, and says what it sent
    planning = document["planning"]
    assert planning["requests"] == document["planning_requests"] == len(world.sim.calls)
    assert planning["seconds"] >= (planning["requests"] - 3) / 2 and planning["peak_rps"] <= 2

    monkeypatch.setattr(campaign_cli, "stderr_is_terminal", lambda: False)
    quiet = cli(world, "campaign", "plan", *flags)
    assert quiet.stderr == ""  # off a terminal (a script, a log): no progress lines
    took = duration_text(planning["seconds"])
    assert f"Planning: {planning['requests']} RDS requests in {took} (budget 2 req/s)" in quiet.stdout


def test_run_off_a_terminal_without_yes_is_refused(world: World) -> None:
    clusters = seed(world, 2)
    result = cli(world, "campaign", "run", *campaign_flags(clusters))
    assert result.exit_code == 2
    assert "pass --yes" in result.output
    nothing_written(world)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--type", "instance_cycle", "--max-concurrency", "2"], "name the targets: --cluster ID"),
        (
            ["--type", "instance_cycle", "--cluster", "shop-00", "--tag", "env=prod", "--max-concurrency", "2"],
            "name the targets one way, not with --cluster and --tag",
        ),
        (
            ["--type", "instance_cycle", "--cluster", "shop-00", "--instance", "db-1", "--max-concurrency", "2"],
            "not with --cluster and --instance",
        ),
        (
            [
                "--type",
                "instance_cycle",
                "--cluster",
                "shop-00",
                "--max-concurrency",
                "2",
                "--failure-tolerance",
                "120%",
            ],
            "--failure-tolerance: failure tolerance '120%'",
        ),
        (
            ["--type", "instance_cycle", "--cluster", "shop-00", "--max-concurrency", "2", "--override", "shop-09:a=1"],
            "--override names targets the campaign does not have: shop-09",
        ),
        (
            ["--type", "instance_cycle", "--cluster", "shop-00", "--max-concurrency", "2", "--override", "shop-00"],
            "--override 'shop-00' must look like TARGET:KEY=VALUE",
        ),
        (["--type", "instance_cycle", "--cluster", "shop-00"], "--max-concurrency is required"),
        (["--type", "instance_cycle", "--cluster", "shop-00", "--max-concurrency", "0"], "--max-concurrency: "),
        (
            ["--type", "instance_cycle", "--cluster", "shop-00", "--cluster", "shop-00", "--max-concurrency", "1"],
            "target named twice: shop-00",
        ),
        (
            ["--type", "instance_cycle", "--cluster", "shop-00", "--max-concurrency", "1", "--budget", "20"],
            "--budget: ",
        ),
    ],
)
@pytest.mark.parametrize("command", ["plan", "run"])
def test_bad_flags_exit_2_with_a_precise_message_and_write_nothing(
    world: World, command: str, flags: list[str], message: str
) -> None:
    seed(world, 1)
    yes = ["--yes"] if command == "run" else []
    result = cli(world, "campaign", command, *flags, "--region", REGION, *yes)
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    nothing_written(world)


def test_targets_failing_preflight_refuse_the_run_unless_skip_refused(world: World) -> None:
    clusters = seed(world, 2)
    asked = [*clusters, "shop-missing"]
    refused = cli(world, "campaign", "run", *campaign_flags(asked), "--yes")
    assert refused.exit_code == 2, refused.output
    assert "1 of 3 targets fail preflight" in refused.output
    assert "shop-missing: cluster 'shop-missing' not found" in refused.output
    nothing_written(world)

    ran = cli(world, "campaign", "run", *campaign_flags(asked, "--skip-refused", "--id", "c-skip"), "--yes")
    assert ran.exit_code == 0, ran.output
    assert all(classes(world, c) == {TARGET_CLASS} for c in clusters)
    record = world.store.load_campaign("c-skip")
    assert record.counts()["completed"] == 2 and record.counts()["refused"] == 1


def test_run_shows_each_start_and_end_a_pause_with_its_answer_and_carries_on(world: World) -> None:
    clusters = seed(world, 3)
    flags = campaign_flags(clusters, "--id", "c-cli", "--pause-before", "failback", "--canary", "0")
    first = cli(world, "campaign", "run", *flags, "--yes")
    assert first.exit_code == 3, first.output  # every target paused before its failback: a person is next
    assert re.search(r"\[\d\d:\d\d:\d\d\] shop-00 \(c-cli-0001\) started \(wave 0\)", first.output), first.output
    assert "shop-00 (c-cli-0001) paused for a person: Paused before step 'failback'" in first.output
    answer = f"rds-maint resume c-cli-0001 --action continue --store {world.store_url}"
    assert answer in first.output
    assert f"then carry on with: rds-maint campaign run c-cli --store {world.store_url}" in first.output
    assert "req/s mean" in first.output and "budget 2" in first.output

    assert "(c-cli-0003) started" not in first.output  # two paused targets hold both slots: the third waits
    for n in (1, 2):
        assert cli(world, "resume", f"c-cli-{n:04d}", "--action", "continue").exit_code == 0
    second = cli(world, "campaign", "run", "c-cli")
    assert second.exit_code == 3, second.output
    assert "shop-00 (c-cli-0001) completed" in second.output and "shop-02 (c-cli-0003) started" in second.output
    assert cli(world, "resume", "c-cli-0003", "--action", "continue").exit_code == 0
    again = cli(world, "campaign", "run", "c-cli", "--output", "json")
    assert again.exit_code == 0, again.output
    document = json.loads(again.output)  # one document, nothing else
    assert document["state"] == "completed" and document["counts"] == {"completed": 3}
    assert [t["operation_id"] for t in document["targets"]] == ["c-cli-0001", "c-cli-0002", "c-cli-0003"]
    assert 0 < document["rate"]["peak_rps"] <= document["rate"]["budget_rps"] == 2.0
    assert all(classes(world, c) == {TARGET_CLASS} for c in clusters)

    mixed = cli(world, "campaign", "run", "c-cli", "--type", "instance_cycle")
    assert mixed.exit_code == 2 and "not both" in mixed.output
    unknown = cli(world, "campaign", "run", "c-nope")
    assert unknown.exit_code == 2 and "campaign 'c-nope' not found" in unknown.output
    calls = len(world.sim.calls)
    twice = cli(world, "campaign", "run", *flags, "--yes")
    assert twice.exit_code == 2 and "campaign 'c-cli' already exists; carry it on with" in twice.output
    assert len(world.sim.calls) == calls  # refused before any target was planned


def test_ctrl_c_exits_130_with_the_command_that_carries_on(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    clusters = seed(world, 2)
    sleeps: list[float] = []
    real_sleep = world.clock.sleep

    def interrupted_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 10:
            raise KeyboardInterrupt
        real_sleep(seconds)

    with monkeypatch.context() as patch:
        patch.setattr(world.clock, "sleep", interrupted_sleep)
        stopped = cli(world, "campaign", "run", *campaign_flags(clusters, "--id", "c-int"), "--yes")
    assert stopped.exit_code == 130, stopped.output
    assert f"Carry on with: rds-maint campaign run c-int --store {world.store_url}" in stopped.output
    carried = cli(world, "campaign", "run", "c-int")
    assert carried.exit_code == 0, carried.output
    assert len(world.store.list_operations()) == 2
    assert all(classes(world, c) == {TARGET_CLASS} for c in clusters)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with offline_rehearsal(monkeypatch):
        yield


def test_a_campaign_on_a_rehearsal_account(tmp_path: Path, no_network: None) -> None:
    account = tmp_path / "rehearsal"
    for cluster in ("one", "two"):
        made = CliRunner().invoke(
            main, ["sim", "create", "--dir", str(account), "--cluster", cluster, "--readers", "1", "--speed", "1e9"]
        )
        assert made.exit_code == 0, made.output
    sim = ("--simulate", str(account))
    flags = ["--type", "instance_cycle", "--cluster", "one", "--cluster", "two", "--max-concurrency", "2", *sim]
    ran = CliRunner().invoke(main, ["campaign", "run", *flags, "--yes", "--id", "c-sim"])
    assert ran.exit_code == 0, ran.output
    assert "one (c-sim-0001) completed" in ran.output and "two (c-sim-0002) completed" in ran.output
    status = CliRunner().invoke(main, ["status", "c-sim-0002", "--output", "json", *sim])
    assert json.loads(status.output)["operation"]["state"] == "completed", status.output
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:rds-maint-machine-campaign"
    handed = CliRunner().invoke(main, ["campaign", "start-execution", *flags, "--yes", "--state-machine-arn", arn])
    assert handed.exit_code == 2 and "drive the campaign here with: rds-maint campaign run" in handed.output


def test_the_status_line_says_what_runs_what_waits_for_a_person_what_ended_the_wave_and_the_rate() -> None:
    request = CampaignRequest(
        type="instance_cycle", target_ids=[f"t{n}" for n in range(6)], region=REGION, max_concurrency=3, wave_size=2
    )
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    states = ["completed", "running", "running", "failed", "pending", "pending"]
    targets = [
        CampaignTarget(
            index=n,
            target_id=f"t{n}",
            wave=wave,
            operation_id=target_operation_id("c-s", n),
            params={},
            state=TargetState(state),
            operation_state="paused" if n == 1 else None,
        )
        for n, (wave, state) in enumerate(zip(wave_of_each(6, 1, 2), states, strict=True))
    ]
    record = Campaign(
        id="c-s",
        request=request,
        targets=targets,
        current_wave=1,
        created_at=now,
        updated_at=now,
        rate=RequestRate(requests=170, seconds=100, peak_rps=1.9),
    )
    assert (
        status_text(record)
        == "2 running (1 paused) · 1 completed · 1 failed · 2 pending · wave 1 of 0-3 · 1.7 req/s of 2"
    )


def test_on_a_terminal_the_status_line_is_redrawn_in_place(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    clusters = seed(world, 2)
    monkeypatch.setattr(campaign_view, "stdout_is_terminal", lambda: True)
    result = cli(world, "campaign", "run", *campaign_flags(clusters, "--canary", "0"), "--yes")
    assert result.exit_code == 0, result.output
    assert f"{CLEAR}2 running · one wave · " in result.output
    assert f"{CLEAR}2 completed · one wave · " not in result.output  # the end is a summary, not a status line
    assert "  2 completed · one wave · " in result.output


def test_a_campaign_over_db_instances(world: World) -> None:
    for db in ("db-a", "db-b", "db-c"):
        world.sim.seed_db_instance(db, instance_class="db.m6g.large")
    flags = ["--type", "instance_type_change", "--region", REGION, "--param", "target_instance_type=db.m6g.xlarge"]
    flags += ["--instance", "db-a", "--instance", "db-b", "--instance", "db-c", "--max-concurrency", "2"]
    result = cli(world, "campaign", "run", *flags, "--id", "c-db", "--yes")
    assert result.exit_code == 0, result.output
    assert "instance db-a (c-db-0001) started (wave 0)" in result.output
    client = world.rds_client()
    for db in ("db-a", "db-b", "db-c"):
        [described] = client.describe_db_instances(DBInstanceIdentifier=db)["DBInstances"]
        assert described["DBInstanceClass"] == "db.m6g.xlarge"
    assert {op.instance_id for op in world.store.list_operations()} == {"db-a", "db-b", "db-c"}


def test_a_wave_to_approve_exits_3_with_what_to_do_then_the_approved_wave_runs(world: World) -> None:
    clusters = seed(world, 2)
    first = cli(world, "campaign", "run", *campaign_flags(clusters, "--id", "c-aw", "--approve-waves"), "--yes")
    assert first.exit_code == 3, first.output
    assert f"Wave 1 waits for approval: rds-maint campaign resume c-aw --store {world.store_url}" in first.output
    assert f"then carry on with: rds-maint campaign run c-aw --store {world.store_url}" in first.output
    assert classes(world, "shop-01") == {"db.r6g.large"}

    record = world.store.load_campaign("c-aw")  # what `rds-maint campaign resume c-aw` records
    schedule.resume(record, "alice", world.clock.now())
    world.store.save_campaign(record)
    second = cli(world, "campaign", "run", "c-aw")
    assert second.exit_code == 0, second.output
    assert classes(world, "shop-01") == {TARGET_CLASS}
