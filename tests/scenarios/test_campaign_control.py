"""Steering a campaign as an operator does: `campaign status|list|pause|resume|abort` on the simulator.

Campaigns are planned on simulated clusters (`plan_campaign` + `campaign_of`) and stored; the targets a
test needs under way get their operations through the engine, as a driver would make them, and the record
is told so (`schedule.mark_started`). The driver itself is not used: these commands work on the record and
the operations only, and every assertion reads the store (and the simulator, for what AWS saw).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rds_maint.actor import answering_actor, sts_client
from rds_maint.campaign import schedule
from rds_maint.campaign.control import live_targets, pause_campaign, pause_comment
from rds_maint.campaign.planner import CampaignPlan, campaign_of, plan_campaign
from rds_maint.campaign_model import (
    Campaign,
    CampaignRequest,
    CampaignState,
    CampaignTarget,
    FailureTolerance,
    TargetState,
)
from rds_maint.cli import main
from rds_maint.engine import Engine
from rds_maint.model import Operation, OperationState, OperationType
from rds_maint.store import open_store
from tests.helpers.environment import environment_kept
from tests.helpers.world import REGION, World

CLUSTERS = ["orders-a", "orders-b", "orders-c", "orders-d"]
PARAMS = {"target_instance_type": "db.r6g.xlarge"}


def actor() -> str:
    """Who the CLI records as asking in these tests: the identity of the fake credentials (moto's STS)."""
    return answering_actor(lambda: sts_client(None, REGION))


def cli(world: World, *args: str) -> Result:
    return world.cli([*args, "--store", world.store_url])


@pytest.fixture
def clusters(world: World) -> list[str]:
    for name in CLUSTERS:
        world.sim.seed_cluster(name, instance_class="db.r6g.large", readers=1)
    return CLUSTERS


def planned(world: World, campaign_id: str = "c-test", **request: object) -> tuple[CampaignPlan, Campaign]:
    """A campaign planned on the simulated clusters and stored, as `campaign run` stores it."""
    fields: dict[str, object] = {
        "type": OperationType.INSTANCE_TYPE_CHANGE,
        "target_ids": CLUSTERS,
        "region": REGION,
        "params": PARAMS,
        "max_concurrency": 3,
        "canary": 0,
    }
    fields.update(request)
    plan = plan_campaign(world.engine, CampaignRequest.model_validate(fields), campaign_id)
    stored = world.store.create_campaign(campaign_of(plan, world.clock.now()))
    return plan, stored


def start_target(world: World, plan: CampaignPlan, index: int) -> Operation:
    """The target's operation created from its preview and started, and the record told: a driver's start."""
    preview = plan.targets[index].preview
    assert preview is not None
    op = world.engine.create_from_preview(preview, campaign_id=plan.campaign_id)
    world.engine.start(op.id)
    change(world, plan.campaign_id, lambda c: schedule.mark_started(c, c.targets[index], world.clock.now()))
    return world.store.load(op.id)


def change(world: World, campaign_id: str, edit: Callable[[Campaign], object]) -> Campaign:
    campaign = world.store.load_campaign(campaign_id)
    edit(campaign)
    return world.store.save_campaign(campaign)


def advance_until(world: World, op_id: str, done: Callable[[Operation], bool]) -> Operation:
    """Drive one engine call at a time, as a driver would, and stop (between two calls) once `done`."""
    for _ in range(300):
        op = world.store.load(op_id)
        if done(op):
            return op
        result = world.engine.advance(op_id)
        world.clock.sleep(result.wait_seconds)
    raise AssertionError("the operation never got there")


def is_paused(op: Operation) -> bool:
    return op.state is OperationState.PAUSED


# -- status and list ------------------------------------------------------------------------------------


def test_status_shows_each_target_live_and_changes_nothing(world: World, clusters: list[str]) -> None:
    plan, _ = planned(world)
    started = start_target(world, plan, 0)
    # the driver went on after its last save of the record: the record still says "created"
    advance_until(world, started.id, lambda op: op.current_step_index >= 1)
    before_calls = list(world.mutating_calls())
    before = world.store.load_campaign("c-test")

    text = cli(world, "campaign", "status", "c-test")
    assert text.exit_code == 0, text.output
    assert "Campaign c-test: instance_type_change on 4 clusters (us-east-1), running" in text.output
    assert "concurrency: 3; failure tolerance 0 (allows 0 of 4; 0 failed so far)" in text.output
    assert "budget 2 req/s" in text.output
    assert "3 pending, 1 running" in text.output
    row = next(line for line in text.output.splitlines() if line.startswith("1 "))
    assert "orders-a" in row and started.id in row and "running" in row
    assert f"rds-maint campaign run c-test --store {world.store_url}" in text.output

    data = json.loads(cli(world, "campaign", "status", "c-test", "--output", "json").output)
    assert data["state"] == "running" and data["type"] == "instance_type_change"
    assert data["counts"]["running"] == 1 and data["counts"]["pending"] == 3
    assert data["request"]["max_concurrency"] == 3 and data["request"]["failures_allowed"] == 0
    assert data["rate"]["budget_rps"] == 2.0
    assert data["waves"] == {"current": 0, "count": 1, "approved": 0, "approval_needed": False}
    first = data["targets"][0]
    assert first["operation_id"] == started.id and first["recorded_operation_state"] == "created"
    assert first["operation_state"] == "running"  # read from the store now, not from the lagging record
    live = world.store.load(started.id)
    assert first["step"] == live.steps[live.current_step_index].name
    assert first["step_number"] == live.current_step_index + 1
    assert [t["operation_state"] for t in data["targets"][1:]] == [None, None, None]
    assert data["needs"] == []

    assert world.mutating_calls() == before_calls
    assert world.store.load_campaign("c-test").version == before.version


def test_the_live_view_reads_one_listing_and_only_the_paused_operations(world: World, clusters: list[str]) -> None:
    plan, campaign = planned(world)
    running, paused = start_target(world, plan, 0), start_target(world, plan, 1)
    world.engine.request_pause(paused.id, actor="dba@example")
    advance_until(world, paused.id, is_paused)
    world.engine.create({"type": "instance_type_change", "cluster_id": "orders-d", "region": REGION,
                         "params": PARAMS})  # fmt: skip  # not the campaign's: listed, never read
    reads: list[str] = []
    store = world.store
    real_summaries, real_load = store.summaries, store.load

    def summaries(*args: object, **kwargs: object) -> object:
        reads.append("summaries")
        return real_summaries(*args, **kwargs)  # type: ignore[arg-type]

    def load(operation_id: str) -> Operation:
        reads.append(f"load {operation_id}")
        return real_load(operation_id)

    store.summaries, store.load = summaries, load  # type: ignore[method-assign,assignment]
    try:
        views = live_targets(world.engine, world.store.load_campaign(campaign.id))
    finally:
        del store.summaries, store.load
    assert reads == ["summaries", f"load {paused.id}"]
    assert [v.live_state for v in views] == ["running", "paused", None, None]
    assert views[1].operation is not None and views[0].operation is None
    assert running.id == views[0].target.operation_id


def test_list_shows_every_campaign_oldest_first_and_filters_by_state(world: World, clusters: list[str]) -> None:
    empty = cli(world, "campaign", "list")
    assert empty.exit_code == 0 and "No campaigns." in empty.output
    planned(world, "c-first")
    world.clock.sleep(60)
    planned(world, "c-second")
    change(world, "c-second", lambda c: schedule.pause(c, "someone", world.clock.now()))

    text = cli(world, "campaign", "list")
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].split()[:5] == ["ID", "CREATED", "TYPE", "TARGETS", "STATE"]
    assert lines[1].startswith("c-first") and "running" in lines[1] and "0/0/0/4" in lines[1]
    assert lines[2].startswith("c-second") and "paused" in lines[2]

    rows = json.loads(cli(world, "campaign", "list", "--output", "json").output)
    assert [r["id"] for r in rows] == ["c-first", "c-second"]
    assert rows[0]["targets"] == 4 and rows[0]["counts"]["pending"] == 4
    paused = json.loads(cli(world, "campaign", "list", "--state", "paused", "--output", "json").output)
    assert [r["id"] for r in paused] == ["c-second"]

    bad = cli(world, "campaign", "list", "--state", "sleeping")
    assert bad.exit_code == 2 and "not a campaign state" in bad.output


# -- pause ----------------------------------------------------------------------------------------------


def test_pause_asks_every_running_target_to_pause_and_is_idempotent(world: World, clusters: list[str]) -> None:
    plan, _ = planned(world)
    ops = [start_target(world, plan, i) for i in (0, 1)]
    completed_calls = list(world.mutating_calls())

    paused = cli(world, "campaign", "pause", "c-test", "--comment", "app team sees errors")
    assert paused.exit_code == 0, paused.output
    assert "Campaign c-test paused: no new target starts" in paused.output
    campaign = world.store.load_campaign("c-test")
    assert campaign.state is CampaignState.PAUSED
    event = campaign.history[-1]
    assert event.type == "campaign_paused" and event.actor == actor() and "app team sees errors" in event.message
    for op in ops:
        asked = world.store.load(op.id).pause_requested
        assert asked is not None and asked.comment == pause_comment("c-test") and asked.actor == actor()
        assert f"{op.id}): Pause asked for by" in paused.output
    assert world.mutating_calls() == completed_calls  # a pause is a request on the record, not an AWS call
    assert schedule.next_starts(campaign) == []

    # the driver reaches the boundary: the operation pauses there, as the campaign asked
    advance_until(world, ops[0].id, is_paused)
    again = cli(world, "campaign", "pause", "c-test")
    assert again.exit_code == 0, again.output
    assert "Campaign c-test is already paused" in again.output
    assert f"Operation {ops[0].id} is already paused" in again.output
    assert f"A pause of {ops[1].id} was already asked for" in again.output
    assert world.store.load_campaign("c-test").version == campaign.version


# -- resume ---------------------------------------------------------------------------------------------


def test_resume_continues_only_what_the_campaign_paused(world: World, clusters: list[str]) -> None:
    plan, _ = planned(world)
    by_campaign, own_pause, not_yet = (start_target(world, plan, i) for i in (0, 1, 2))
    # a person paused one target for a reason of their own before the campaign's pause
    world.engine.request_pause(own_pause.id, actor="dba@example", comment="checking replica lag")
    advance_until(world, own_pause.id, is_paused)
    assert cli(world, "campaign", "pause", "c-test").exit_code == 0
    advance_until(world, by_campaign.id, is_paused)  # the third one has not reached its boundary yet

    resumed = cli(world, "campaign", "resume", "c-test", "--comment", "errors explained")
    assert resumed.exit_code == 0, resumed.output
    campaign = world.store.load_campaign("c-test")
    assert campaign.state is CampaignState.RUNNING
    assert campaign.history[-1].type == "campaign_resumed" and campaign.history[-1].actor == actor()

    first = world.store.load(by_campaign.id)
    assert first.state is OperationState.RUNNING
    resumed_event = world.store.events(first.id)[-1]
    assert resumed_event.type == "operation_resumed" and resumed_event.actor == actor()

    second = world.store.load(own_pause.id)
    assert second.state is OperationState.PAUSED and "checking replica lag" in (second.pause_reason or "")
    assert "paused for its own reason, left for a person" in resumed.output
    assert f"rds-maint resume {own_pause.id} --action continue --store {world.store_url}" in resumed.output

    third = world.store.load(not_yet.id)
    assert third.pause_requested is None and third.state is OperationState.RUNNING
    assert "the campaign's pause request taken back" in resumed.output
    [withdrawn] = [e for e in world.store.events(not_yet.id) if e.type == "pause_request_withdrawn"]
    assert withdrawn.actor == actor()
    assert withdrawn.message == f"Pause asked for by {actor()} taken back by {actor()}: campaign c-test resumed"
    assert f"Carry it on with: rds-maint campaign run c-test --store {world.store_url}" in resumed.output

    # the person's own pause shows in status with the answer it needs
    status = cli(world, "campaign", "status", "c-test")
    assert f"rds-maint resume {own_pause.id} --action continue --store {world.store_url}" in status.output
    needs = json.loads(cli(world, "campaign", "status", "c-test", "--output", "json").output)["needs"]
    assert [n["command"] for n in needs] == [f"rds-maint resume {own_pause.id} --action continue"]

    # a target the campaign paused, in a campaign that has been aborted since, is answered on its own
    assert cli(world, "campaign", "pause", "c-test").exit_code == 0
    advance_until(world, not_yet.id, is_paused)
    change(world, "c-test", lambda c: schedule.abort(c, "someone", world.clock.now()))
    needs = json.loads(cli(world, "campaign", "status", "c-test", "--output", "json").output)["needs"]
    assert f"rds-maint resume {not_yet.id} --action continue" in [n["command"] for n in needs]


def test_resuming_a_running_campaign_says_so_and_finishes_a_resume_cut_short(world: World, clusters: list[str]) -> None:
    plan, _ = planned(world)
    own_pause, cut_short = start_target(world, plan, 0), start_target(world, plan, 1)
    world.engine.request_pause(own_pause.id, actor="dba@example", comment="checking replica lag")
    advance_until(world, own_pause.id, is_paused)
    assert cli(world, "campaign", "pause", "c-test").exit_code == 0
    advance_until(world, cut_short.id, is_paused)
    # a resume that saved the campaign and died before it carried the operations on
    campaign = change(world, "c-test", lambda c: schedule.resume(c, "someone", world.clock.now()))

    again = cli(world, "campaign", "resume", "c-test")
    assert again.exit_code == 0 and "is running already" in again.output
    assert world.store.load_campaign("c-test").version == campaign.version
    assert world.store.load(cut_short.id).state is OperationState.RUNNING
    assert world.store.load(own_pause.id).state is OperationState.PAUSED


def test_resume_approves_the_wave_that_waits(world: World, clusters: list[str]) -> None:
    planned(world, canary=1, approve_waves=True, max_concurrency=2)

    def canary_done(c: Campaign) -> None:
        now = world.clock.now()
        schedule.observe(c, c.targets[0], "completed", None, now)
        schedule.settle(c, now)

    waiting = change(world, "c-test", canary_done)
    assert waiting.state is CampaignState.AWAITING_APPROVAL and waiting.current_wave == 1

    status = cli(world, "campaign", "status", "c-test")
    assert status.exit_code == 3, status.output
    assert f"approve wave 1: rds-maint campaign resume c-test --store {world.store_url}" in status.output
    data = json.loads(cli(world, "campaign", "status", "c-test", "--output", "json").output)
    assert data["waves"]["approval_needed"] is True and data["waves"]["count"] == 2

    approved = cli(world, "campaign", "resume", "c-test", "--comment", "canary fine")
    assert approved.exit_code == 0, approved.output
    campaign = world.store.load_campaign("c-test")
    assert campaign.state is CampaignState.RUNNING and campaign.approved_wave == 1
    assert campaign.history[-1].type == "wave_approved" and campaign.history[-1].actor == actor()
    assert [t.target_id for t in schedule.next_starts(campaign)] == ["orders-b", "orders-c"]


def test_a_halted_campaign_goes_on_only_with_a_tolerance_its_failures_fit(world: World, clusters: list[str]) -> None:
    plan, _ = planned(world)
    running = start_target(world, plan, 2)

    def two_failed(c: Campaign) -> None:
        now = world.clock.now()
        for index in (0, 1):
            schedule.mark_started(c, c.targets[index], now)
            schedule.observe(c, c.targets[index], "failed", "the cluster went away", now)
        schedule.settle(c, now)

    halted = change(world, "c-test", two_failed)
    assert halted.state is CampaignState.HALTED

    status = json.loads(cli(world, "campaign", "status", "c-test", "--output", "json").output)
    assert status["needs"][0]["command"] == "rds-maint campaign resume c-test --failure-tolerance 2"

    plain = cli(world, "campaign", "resume", "c-test")
    assert plain.exit_code == 2 and "Raise --failure-tolerance to go on" in plain.output
    too_low = cli(world, "campaign", "resume", "c-test", "--failure-tolerance", "1")
    assert too_low.exit_code == 2 and "does not allow that many" in too_low.output
    garbled = cli(world, "campaign", "resume", "c-test", "--failure-tolerance", "lots")
    assert garbled.exit_code == 2 and "give a whole number of targets" in garbled.output
    assert world.store.load_campaign("c-test").version == halted.version

    raised = cli(world, "campaign", "resume", "c-test", "--failure-tolerance", "50%")
    assert raised.exit_code == 0, raised.output
    campaign = world.store.load_campaign("c-test")
    assert campaign.state is CampaignState.RUNNING
    assert campaign.request.failure_tolerance == FailureTolerance(percent=50)
    assert campaign.history[-1].actor == actor() and "50%" in campaign.history[-1].message
    assert world.store.load(running.id).state is OperationState.RUNNING  # never paused, untouched


# -- abort ----------------------------------------------------------------------------------------------


def test_abort_skips_what_has_not_started_and_lists_how_to_stop_the_rest(world: World, clusters: list[str]) -> None:
    plan, _ = planned(world)
    running = start_target(world, plan, 0)

    refused = cli(world, "campaign", "abort", "c-test")  # CliRunner's stdin is no terminal
    assert refused.exit_code == 2 and "pass --yes" in refused.output
    assert world.store.load_campaign("c-test").state is CampaignState.RUNNING

    aborted = cli(world, "campaign", "abort", "c-test", "--comment", "wrong class", "--yes")
    assert aborted.exit_code == 0, aborted.output
    campaign = world.store.load_campaign("c-test")
    assert campaign.state is CampaignState.ABORTING
    assert [t.state for t in campaign.targets] == [TargetState.RUNNING] + [TargetState.SKIPPED] * 3
    assert campaign.history[-1].actor == actor() and "wrong class" in campaign.history[-1].message
    assert "3 targets not started are skipped" in aborted.output
    assert f"rds-maint pause {running.id} --store {world.store_url}" in aborted.output
    assert f"rds-maint resume {running.id} --action abort --store {world.store_url}" in aborted.output
    assert world.store.load(running.id).state is OperationState.RUNNING  # it goes on to its own end

    again = cli(world, "campaign", "abort", "c-test", "--yes")
    assert again.exit_code == 0 and "is aborting already" in again.output
    assert world.store.load_campaign("c-test").version == campaign.version


# -- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["status", "nope"],
        ["pause", "nope"],
        ["resume", "nope"],
        ["abort", "nope", "--yes"],
    ],
)
def test_an_unknown_campaign_is_refused(world: World, args: list[str]) -> None:
    result = cli(world, "campaign", *args)
    assert result.exit_code == 2
    assert "error: campaign 'nope' not found" in result.output
    assert world.store.campaigns() == []


def test_an_ended_campaign_takes_no_change(world: World, clusters: list[str]) -> None:
    planned(world)
    ended = change(world, "c-test", lambda c: schedule.abort(c, "someone", world.clock.now()))
    assert ended.state is CampaignState.ABORTED
    for verb in ("pause", "resume", "abort"):
        result = (
            cli(world, "campaign", verb, "c-test", "--yes")
            if verb == "abort"
            else cli(world, "campaign", verb, "c-test")
        )
        assert result.exit_code == 2, result.output
        assert f"campaign c-test has ended (aborted); there is nothing to {verb}" in result.output
    assert world.store.load_campaign("c-test").version == ended.version
    status = cli(world, "campaign", "status", "c-test")
    assert status.exit_code == 1 and "aborted" in status.output


# -- a lost race, a rehearsal account -------------------------------------------------------------------


def test_a_pause_that_loses_a_race_decides_again_on_the_winners_record(world: World, clusters: list[str]) -> None:
    plan, _ = planned(world)
    start_target(world, plan, 0)
    store = world.store
    real_save = store.save_campaign
    raced: list[int] = []

    def save_after_a_driver(campaign: Campaign) -> Campaign:
        if not raced:  # a driver saves what it saw of target 0 between this pause's load and its save
            raced.append(1)
            theirs = store.load_campaign(campaign.id)
            schedule.observe(theirs, theirs.targets[0], "running", None, world.clock.now())
            real_save(theirs)
        return real_save(campaign)

    engine = Engine(store, world.gateway, world.clock)
    store.save_campaign = save_after_a_driver  # type: ignore[method-assign]
    try:
        outcome = pause_campaign(engine, "c-test", actor="dba@example")
    finally:
        del store.save_campaign
    saved = world.store.load_campaign("c-test")
    assert saved.state is CampaignState.PAUSED and outcome.event is not None
    assert saved.targets[0].operation_state == "running"  # the driver's save is kept, not overwritten
    assert [e.type for e in saved.history].count("campaign_paused") == 1


REHEARSAL_CLUSTER = "prod-pg"


@pytest.fixture
def rehearsal(tmp_path: Path) -> Iterator[Path]:
    """A rehearsal account made as a person makes it (`sim create`, a process of its own)."""
    directory = tmp_path / "rehearsal"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    made = subprocess.run(
        [sys.executable, "-c", "from rds_maint.cli import main; main()", "sim", "create", "--dir", str(directory),
         "--cluster", REHEARSAL_CLUSTER, "--readers", "1", "--speed", "1e9"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with environment_kept():
        yield directory


def test_every_command_works_on_a_rehearsal_account(rehearsal: Path) -> None:
    sim = ("--simulate", str(rehearsal))

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, [*args, *sim])

    made = run("create", "--type", "instance_type_change", "--cluster", REHEARSAL_CLUSTER,
               "--param", "target_instance_type=db.r6g.xlarge", "--output", "json")  # fmt: skip
    assert made.exit_code == 0, made.output
    op_id = json.loads(made.output)["id"]
    assert run("run", op_id, "--pause-before", "failback").exit_code == 3
    # a hand-made record in the account's store naming that operation as its one running target
    store = open_store(f"file://{rehearsal / 'store'}")
    now = store.load(op_id).updated_at
    request = CampaignRequest(
        type=OperationType.INSTANCE_TYPE_CHANGE, target_ids=[REHEARSAL_CLUSTER], region=store.load(op_id).region,
        params=PARAMS, max_concurrency=1,
    )  # fmt: skip
    target = CampaignTarget(
        index=0, target_id=REHEARSAL_CLUSTER, wave=0, operation_id=op_id, params=PARAMS,
        state=TargetState.RUNNING, operation_state="running", started_at=now,
    )  # fmt: skip
    store.create_campaign(Campaign(id="c-sim", request=request, targets=[target], created_at=now, updated_at=now))

    listed = run("campaign", "list", "--output", "json")
    assert listed.exit_code == 0 and [r["id"] for r in json.loads(listed.output)] == ["c-sim"]
    status = run("campaign", "status", "c-sim")
    assert status.exit_code == 0, status.output
    assert f"rds-maint resume {op_id} --action continue --simulate {rehearsal}" in status.output

    paused = run("campaign", "pause", "c-sim")
    assert paused.exit_code == 0, paused.output
    assert f"rds-maint campaign resume c-sim --simulate {rehearsal}" in paused.output
    assert store.load_campaign("c-sim").state is CampaignState.PAUSED
    resumed = run("campaign", "resume", "c-sim")
    assert resumed.exit_code == 0, resumed.output
    assert f"rds-maint campaign run c-sim --simulate {rehearsal}" in resumed.output
    assert store.load(op_id).state is OperationState.PAUSED  # paused before failback by its own request
    aborted = run("campaign", "abort", "c-sim", "--yes")
    assert aborted.exit_code == 0, aborted.output
    assert f"rds-maint resume {op_id} --action abort --simulate {rehearsal}" in aborted.output
