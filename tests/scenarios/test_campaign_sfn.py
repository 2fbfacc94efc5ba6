"""The campaign state machine, run in moto's Step Functions interpreter with the operation machine as its child.

`sfn/rds-maint-campaign.asl.json` and `sfn/rds-maint-machine.asl.json` run as written (only `${LambdaArn}`
and `${OperationMachineArn}` substituted) in the harness of `sfn_harness.machine` (its docstring lists the
moto gaps it works around): every Lambda step is the real handler in-process, on the simulated Aurora, a file
store and the virtual clock. The campaign record is made as `rds-maint campaign plan/run` makes it (the
planner, then the store), so the CLI and the machine share it.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from rds_maint.campaign_model import CampaignState, TargetState
from rds_maint.model import OperationState
from rds_maint.request_tally import RequestTally, slot_of
from tests.helpers.campaign_sfn import (
    CLUSTERS,
    GHOST,
    Harness,
    busiest_slots,
    busiest_window,
    campaign_harness,
    changed,
    make_campaign,
    mark_releases,
    record_of,
    seed,
    wait_for,
)
from tests.helpers.meters import MARK_RELEASE


@pytest.fixture
def sfn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serialised_aws: None) -> Iterator[Harness]:
    with campaign_harness(tmp_path, monkeypatch) as harness:
        yield harness


def test_a_campaign_runs_every_runnable_target_in_its_own_execution_and_a_paused_one_holds_only_its_slot(
    sfn: Harness,
) -> None:
    world = sfn.world
    seed(world, CLUSTERS)
    stuck = CLUSTERS[2]  # its writer refuses every change: its operation pauses for a person
    world.sim.faults.stuck(f"{stuck}-instance-1")
    targets = [*CLUSTERS[:3], GHOST, *CLUSTERS[3:]]
    campaign = make_campaign(world, targets, max_concurrency=2, canary=1, skip_refused=True)
    assert campaign.target(GHOST).state is TargetState.REFUSED
    arn = sfn.start_campaign(campaign.id)

    detail = sfn.notice(arn, timeout=120)
    paused = record_of(world, campaign.id).target(stuck)
    assert detail["operation_id"] == paused.operation_id and detail["campaign_id"] == campaign.id
    assert detail["cluster_id"] == stuck and detail["target"] == f"cluster {stuck}"
    others = [c for c in CLUSTERS if c != stuck]
    wait_for(
        lambda: all(record_of(world, campaign.id).target(c).state is TargetState.COMPLETED for c in others),
        "the other targets completed while one is paused",
        sfn,
    )
    assert sfn.describe(arn)["status"] == "RUNNING", "the campaign waits for its paused target"
    assert record_of(world, campaign.id).target(stuck).state is TargetState.RUNNING
    assert not changed(world, stuck)

    world.sim.faults.unstick(f"{stuck}-instance-1")
    sfn.sfn.send_task_success(taskToken=detail["task_token"], output=json.dumps({"action": "continue"}))
    done = sfn.wait_done(arn, timeout=240)
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["state"] == "completed" and output["counts"]["completed"] == 5 and output["counts"]["refused"] == 1

    record = record_of(world, campaign.id)
    assert record.state is CampaignState.COMPLETED and record.execution_arn == arn
    for cluster in CLUSTERS:
        target = record.target(cluster)
        assert target.state is TargetState.COMPLETED, target
        op = world.store.load(target.operation_id)
        assert op.state is OperationState.COMPLETED and op.campaign_id == campaign.id
        assert changed(world, cluster), cluster
    children = sfn.executions()
    names = [e["name"] for e in children]
    assert sorted(names) == sorted(record.target(c).operation_id for c in CLUSTERS), "one execution per target"
    assert {record.target(c).execution_arn for c in CLUSTERS} == {e["executionArn"] for e in children}
    ghost = record.target(GHOST)
    assert ghost.operation_id not in names and ghost.execution_arn is None
    assert ghost.operation_id not in {op.id for op in world.store.list_operations()}, "never started"

    [message] = sfn.messages  # the SNS text of the one notice
    assert f"Campaign: {campaign.id}" in message
    status = sfn.status_events()
    assert status and all(e["campaign_id"] == campaign.id for e in status)
    assert {e["operation_id"] for e in status if e["event"] == "operation_completed"} == {
        record.target(c).operation_id for c in CLUSTERS
    }


def test_the_canary_failing_halts_the_campaign_and_no_other_target_starts(sfn: Harness) -> None:
    world = sfn.world
    seed(world, CLUSTERS[:3])
    world.sim.faults.stuck(f"{CLUSTERS[0]}-instance-1")
    campaign = make_campaign(world, CLUSTERS[:3], max_concurrency=2, canary=1)
    arn = sfn.start_campaign(campaign.id)
    detail = sfn.notice(arn, timeout=120)
    assert detail["cluster_id"] == CLUSTERS[0] and detail["campaign_id"] == campaign.id
    world.sim.faults.unstick(f"{CLUSTERS[0]}-instance-1")  # the abort's clean-up may act again
    sfn.sfn.send_task_failure(taskToken=detail["task_token"], error="OperationAborted", cause="not today")
    done = sfn.wait_done(arn, timeout=120)
    assert done["status"] == "FAILED" and done["error"] == "CampaignFailed", done
    record = record_of(world, campaign.id)
    assert record.state is CampaignState.FAILED
    assert record.target(CLUSTERS[0]).state in (TargetState.FAILED, TargetState.ROLLED_BACK)
    assert [record.target(c).state for c in CLUSTERS[1:3]] == [TargetState.SKIPPED, TargetState.SKIPPED]
    assert [e["name"] for e in sfn.executions()] == [record.target(CLUSTERS[0]).operation_id]


def test_a_wave_that_needs_approval_waits_tells_people_once_and_goes_on_when_resumed(sfn: Harness) -> None:
    from rds_maint.campaign.schedule import resume

    world = sfn.world
    seed(world, CLUSTERS[:3])
    campaign = make_campaign(world, CLUSTERS[:3], max_concurrency=2, canary=1, approve_waves=True)
    arn = sfn.start_campaign(campaign.id)
    wait_for(lambda: record_of(world, campaign.id).state is CampaignState.AWAITING_APPROVAL, "the approval wait", sfn)
    wait_for(lambda: len(sfn.drain("campaigns")) >= 1, "the approval notice", sfn)
    time.sleep(0.5)  # the machine keeps looking (waits of 60 s, doubling, in virtual time)
    [notice] = sfn.drain("campaigns")
    assert notice["detail-type"] == "CampaignApprovalRequired"
    assert notice["detail"]["campaign_id"] == campaign.id and notice["detail"]["wave"] == 1
    assert notice["detail"]["command"] == f"rds-maint campaign resume {campaign.id}"
    assert [e["name"] for e in sfn.executions()] == [campaign.target(CLUSTERS[0]).operation_id], "wave 1 waits"
    assert sfn.describe(arn)["status"] == "RUNNING"

    # what `rds-maint campaign resume` does: only the record changes; the next look sees it
    record = record_of(world, campaign.id)
    resume(record, "ops@example.com", world.clock.now())
    world.store.save_campaign(record)
    done = sfn.wait_done(arn, timeout=180)
    assert done["status"] == "SUCCEEDED", done
    assert all(changed(world, c) for c in CLUSTERS[:3])
    assert len(sfn.drain("campaigns")) == 1, "told once"


def test_a_wave_above_the_inline_limit_runs_in_a_distributed_map(sfn: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from rds_maint.campaign import machine_steps

    monkeypatch.setattr(machine_steps, "INLINE_LIMIT", 2)  # 3 targets in one wave: above it
    world = sfn.world
    seed(world, CLUSTERS[:3])
    campaign = make_campaign(world, CLUSTERS[:3], max_concurrency=2, canary=0)
    arn = sfn.start_campaign(campaign.id)
    done = sfn.wait_done(arn, timeout=180)
    assert done["status"] == "SUCCEEDED", done
    entered = [e["stateEnteredEventDetails"]["name"] for e in sfn.history(arn) if e["type"].endswith("StateEntered")]
    assert "DistributedWave" in entered and "InlineWave" not in entered
    assert all(changed(world, c) for c in CLUSTERS[:3])
    assert sorted(e["name"] for e in sfn.executions()) == sorted(t.operation_id for t in campaign.targets)


def test_a_campaign_whose_history_would_fill_goes_on_in_a_fresh_execution(
    sfn: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rds_maint.campaign import machine_steps

    # room for the canary's wave, not for the next one: the second wave runs in `<campaign_id>-1`
    monkeypatch.setattr(machine_steps, "HISTORY_BUDGET", 3 * machine_steps.TARGET_EVENTS)
    world = sfn.world
    seed(world, CLUSTERS[:3])
    campaign = make_campaign(world, CLUSTERS[:3], max_concurrency=2, canary=1)
    arn = sfn.start_campaign(campaign.id)
    first = sfn.wait_done(arn, timeout=180)
    assert first["status"] == "SUCCEEDED", first
    handed = json.loads(first["output"])["execution_arn"]
    assert handed.endswith(f":{campaign.id}-1")
    done = sfn.wait_done(handed, timeout=180)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"])["state"] == "completed", done
    record = record_of(world, campaign.id)
    assert record.state is CampaignState.COMPLETED and record.execution_arn == handed
    assert all(changed(world, c) for c in CLUSTERS[:3])
    assert sorted(e["name"] for e in sfn.executions()) == sorted(t.operation_id for t in campaign.targets)


def test_a_campaign_execution_started_again_follows_the_running_targets_without_a_second_execution(
    sfn: Harness,
) -> None:
    world = sfn.world
    seed(world, CLUSTERS[:2])
    world.sim.faults.stuck(f"{CLUSTERS[0]}-instance-1")  # the canary pauses: its execution waits for an answer
    campaign = make_campaign(world, CLUSTERS[:2], max_concurrency=2, canary=1)
    first = sfn.start_campaign(campaign.id)
    detail = sfn.notice(first, timeout=120)
    sfn.sfn.stop_execution(executionArn=first)  # someone stops the campaign execution; the record stays
    again = sfn.start_campaign(campaign.id, name=f"{campaign.id}-again")
    world.sim.faults.unstick(f"{CLUSTERS[0]}-instance-1")
    sfn.sfn.send_task_success(taskToken=detail["task_token"], output=json.dumps({"action": "continue"}))
    done = sfn.wait_done(again, timeout=180)
    assert done["status"] == "SUCCEEDED", done
    record = record_of(world, campaign.id)
    assert record.state is CampaignState.COMPLETED and record.execution_arn == again
    assert all(changed(world, c) for c in CLUSTERS[:2])
    assert sorted(e["name"] for e in sfn.executions()) == sorted(t.operation_id for t in campaign.targets)


def test_a_paused_campaign_starts_nothing_new_until_resumed_and_then_finishes(sfn: Harness) -> None:
    from rds_maint.campaign.schedule import pause, resume

    world = sfn.world
    seed(world, CLUSTERS[:3])
    world.sim.faults.stuck(f"{CLUSTERS[0]}-instance-1")
    campaign = make_campaign(world, CLUSTERS[:3], max_concurrency=1, canary=0)
    arn = sfn.start_campaign(campaign.id)
    detail = sfn.notice(arn, timeout=120)
    record = record_of(world, campaign.id)
    pause(record, "ops@example.com", world.clock.now(), "change freeze")  # what `rds-maint campaign pause` saves
    world.store.save_campaign(record)
    world.sim.faults.unstick(f"{CLUSTERS[0]}-instance-1")
    sfn.sfn.send_task_success(taskToken=detail["task_token"], output=json.dumps({"action": "continue"}))
    wait_for(
        lambda: record_of(world, campaign.id).target(CLUSTERS[0]).state is TargetState.COMPLETED,
        "the running target finished",
        sfn,
    )
    wait_for(lambda: sum(1 for a in sfn.actions() if a == "campaign_targets") >= 3, "the machine waiting", sfn)
    assert [e["name"] for e in sfn.executions()] == [campaign.targets[0].operation_id], "nothing new started"
    assert sfn.describe(arn)["status"] == "RUNNING" and record_of(world, campaign.id).state is CampaignState.PAUSED

    record = record_of(world, campaign.id)
    resume(record, "ops@example.com", world.clock.now())
    world.store.save_campaign(record)
    done = sfn.wait_done(arn, timeout=180)
    assert done["status"] == "SUCCEEDED", done
    assert all(changed(world, c) for c in CLUSTERS[:3]) and len(sfn.executions()) == 3


def test_campaign_start_execution_plans_stores_and_starts_once_by_the_campaign_id(sfn: Harness) -> None:
    world = sfn.world
    seed(world, CLUSTERS[:2])
    arn_flag = ["--state-machine-arn", str(sfn.campaign_machine_arn)]
    where = ["--store", world.store_url, "--region", "us-east-1"]
    flags = [
        *("--type", "instance_type_change", "--cluster", CLUSTERS[0], "--cluster", CLUSTERS[1]),
        *("--param", "target_instance_type=db.r6g.xlarge", "--max-concurrency", "2", "--id", "c-cli"),
    ]
    refused = world.cli(["campaign", "start-execution", *flags, *arn_flag, *where])
    assert refused.exit_code == 2 and "pass --yes" in refused.output, refused.output
    assert world.store.campaigns() == []
    no_arn = world.cli(["campaign", "start-execution", *flags, "--yes", *where])
    assert no_arn.exit_code == 2 and "--state-machine-arn" in no_arn.output, no_arn.output
    assert world.store.campaigns() == []

    started = world.cli(["campaign", "start-execution", *flags, "--yes", *arn_flag, *where, "--output", "json"])
    assert started.exit_code == 0, started.output
    report = json.loads(started.output)
    assert report["started"] is True and report["name"] == "c-cli"
    assert report["input"] == {"campaign_id": "c-cli", "handoff": 0}
    again = world.cli(["campaign", "start-execution", "c-cli", *arn_flag, *where])
    assert again.exit_code == 0 and "already running" in again.output, again.output
    done = sfn.wait_done(report["execution_arn"], timeout=120)
    assert done["status"] == "SUCCEEDED", done
    assert record_of(world, "c-cli").state is CampaignState.COMPLETED
    assert all(changed(world, c) for c in CLUSTERS[:2])
    over = world.cli(["campaign", "start-execution", "c-cli", *arn_flag, *where])
    assert over.exit_code == 2 and "has ended (completed)" in over.output, over.output
    both = world.cli(["campaign", "start-execution", "c-cli", *flags, *arn_flag, *where])
    assert both.exit_code == 2 and "not both" in both.output, both.output


def test_a_campaigns_record_reports_the_requests_its_targets_sent_and_their_busiest_minute(sfn: Harness) -> None:
    """The rate on Step Functions is added up from the targets' tallies (each Lambda invocation counts its
    own calls, each target's mark release after its final save too): it must say what the simulator
    answered during the execution, and a busiest minute no lower than the simulator's."""
    world = sfn.world
    seed(world, CLUSTERS[:3])
    campaign = make_campaign(world, CLUSTERS[:3], max_concurrency=2, canary=0)
    before = len(world.sim.calls)  # the planning's calls are the CLI's, before the execution
    arn = sfn.start_campaign(campaign.id)
    done = sfn.wait_done(arn, timeout=240)
    assert done["status"] == "SUCCEEDED", done
    during = world.sim.calls[before:]

    record = record_of(world, campaign.id)
    assert record.state is CampaignState.COMPLETED
    tallies = []
    for cluster in CLUSTERS[:3]:
        op = world.store.load(record.target(cluster).operation_id)
        assert op.state is OperationState.COMPLETED and op.requests is not None and op.requests.requests > 0
        tallies.append(op.requests)
        assert changed(world, cluster), cluster
    rate = record.rate
    assert len(mark_releases(during)) == 3 * len(MARK_RELEASE), "one mark release per target, counted too"
    planning = campaign.rate  # the record starts with its planning's (the CLI's calls, before the execution)
    assert rate.requests - planning.requests == sum(t.requests for t in tallies) == len(during) > 0
    assert 0 < planning.requests <= before
    summed = RequestTally.total(tallies)
    with_planning = RequestTally.total([planning.tally, *tallies])
    assert rate.peak_rps == round(max(planning.peak_rps, with_planning.peak_rps()), 3), "the tallies added up"
    # The harness's clock moves between requests, never inside a Lambda invocation (as on AWS, an invocation
    # lasts what its own calls take): each call lands in the slot of the save that counts it, so the tallies
    # added up are the simulator's calls slot by slot, and their peak (the busiest seven slots) is no lower
    # than the simulator's true busiest minute.
    assert summed.slots == dict(Counter(slot_of(c.at) for c in during)), "each call in its own slot"
    peak = summed.peak_requests()
    sim_minute = busiest_window(during)
    assert peak == busiest_slots(during) >= sim_minute, (peak, sim_minute)
    print(f"rate: {rate.requests} requests, peak {peak}/min (simulator's busiest minute {sim_minute}), ", end="")
    print(f"{rate.seconds:.0f} s")
    assert rate.seconds > 0 and rate.mean_rps < rate.peak_rps
