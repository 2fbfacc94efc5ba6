"""The campaign machine's Lambda steps (rds_maint.campaign.machine_steps) when they run again: a retried
gate, a lost save race, a child execution that failed or handed off, a look retried after its answer was
lost. Each is what Step Functions does to a Lambda step (it retries it) or what two steps racing do; the
machine's runs are in test_campaign_sfn.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rds_maint.campaign import machine_steps as steps
from rds_maint.campaign.planner import campaign_of, plan_campaign
from rds_maint.campaign.schedule import abort, resume, settle
from rds_maint.campaign_model import Campaign, CampaignRequest, CampaignState, RequestRate, TargetState
from rds_maint.config import Settings
from rds_maint.engine import Engine
from rds_maint.errors import CampaignNotFound, Conflict
from rds_maint.lambda_handler import make_handler
from rds_maint.model import OperationState, OperationType, Outcome
from rds_maint.request_tally import RequestTally
from tests.helpers.meters import SetMeter
from tests.helpers.world import REGION, World

CLUSTERS = ["pay-1", "pay-2", "pay-3"]
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:rds-maint-machine"


@pytest.fixture
def campaign(world: World) -> Campaign:
    for cluster in CLUSTERS:
        world.sim.seed_cluster(
            cluster, engine="aurora-postgresql", engine_version="15.4", instance_class="db.r6g.large", readers=0
        )
    request = CampaignRequest(
        type=OperationType.INSTANCE_TYPE_CHANGE,
        target_ids=CLUSTERS,
        region=REGION,
        params={"target_instance_type": "db.r6g.xlarge"},
        max_concurrency=2,
        canary=1,
        approve_waves=True,
    )
    plan = plan_campaign(world.engine, request, "c-steps")
    return world.store.create_campaign(campaign_of(plan, world.clock.now()))


def gate(world: World, campaign: Campaign, index: int) -> dict[str, Any]:
    return steps.campaign_gate(world.engine, campaign.id, campaign.targets[index].operation_id, machine_arn=MACHINE)


def test_a_gate_retried_after_it_created_the_operation_finds_it_and_starts_the_same_one(
    world: World, campaign: Campaign
) -> None:
    target = campaign.targets[0]
    steps._create(world.engine, campaign, target)  # the first attempt died after this, before saving the record
    answer = gate(world, campaign, 0)
    again = gate(world, campaign, 0)  # and Step Functions retried once more
    assert answer == again and answer["decision"] == "start"
    assert answer["execution_name"] == target.operation_id == answer["input"]["operation_id"]
    assert (
        answer["execution_arn"]
        == f"arn:aws:states:us-east-1:123456789012:execution:rds-maint-machine:{target.operation_id}"
    )
    assert answer["input"] == {
        "operation_id": target.operation_id,
        "cluster_id": "pay-1",
        "instance_id": None,
        "campaign_id": campaign.id,
    }
    [op] = world.store.list_operations()
    assert op.id == target.operation_id and op.campaign_id == campaign.id and op.state is OperationState.CREATED
    assert op.min_look_seconds == steps.look_floor(campaign.request)
    record = world.store.load_campaign(campaign.id)
    assert record.targets[0].state is TargetState.RUNNING and record.targets[0].execution_arn == answer["execution_arn"]


def test_a_gate_whose_save_loses_a_race_reloads_and_keeps_the_winners_change(
    world: World, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = world.store
    save = store.save_campaign
    raced: list[bool] = []

    def racing_save(record: Campaign) -> Campaign:
        if not raced:  # another writer saves first: a person pauses the campaign
            raced.append(True)
            other = store.load_campaign(record.id)
            other.state = CampaignState.PAUSED
            save(other)
            raise Conflict("lost the race")
        return save(record)

    monkeypatch.setattr(store, "save_campaign", racing_save)
    answer = gate(world, campaign, 0)
    assert raced and answer["decision"] == "start", "the operation exists now: it is started, the pause kept"
    record = store.load_campaign(campaign.id)
    assert record.state is CampaignState.PAUSED and record.targets[0].state is TargetState.RUNNING
    assert gate(world, campaign, 1)["decision"] == "skip", "paused: nothing new starts"


def test_a_gate_skips_what_may_not_start(world: World, campaign: Campaign) -> None:
    assert gate(world, campaign, 1)["decision"] == "skip", "wave 1 waits for the canary"
    assert gate(world, campaign, 0)["decision"] == "start"
    record = world.store.load_campaign(campaign.id)
    abort(record, "ops", world.clock.now())
    world.store.save_campaign(record)
    assert gate(world, campaign, 2)["decision"] == "skip"
    assert world.store.load_campaign(campaign.id).targets[2].state is TargetState.SKIPPED


def test_a_target_busy_when_it_is_to_start_is_a_failed_target_and_is_never_started(
    world: World, campaign: Campaign
) -> None:
    record = world.store.load_campaign(campaign.id)
    canary = record.targets[0]
    canary.state, canary.operation_state = TargetState.COMPLETED, "completed"
    settle(record, world.clock.now())
    resume(record, "ops", world.clock.now())  # approve wave 1
    world.store.save_campaign(record)
    other = world.engine.create(
        {
            "type": "instance_type_change",
            "cluster_id": "pay-2",
            "region": REGION,
            "params": {"target_instance_type": "db.r6g.2xlarge"},
        },
        REGION,
    )
    world.engine.start(other.id)  # someone else's operation holds pay-2 now
    answer = gate(world, campaign, 1)
    assert answer["decision"] == "skip" and other.id in answer["reason"]
    target = world.store.load_campaign(campaign.id).targets[1]
    assert target.state is TargetState.FAILED and (target.reason or "").startswith("refused when it was to start")
    assert target.operation_id not in {op.id for op in world.store.list_operations()}
    assert gate(world, campaign, 2)["decision"] == "skip", "a failure past the tolerance (0): nothing new starts"
    record = world.store.load_campaign(campaign.id)
    assert record.state is CampaignState.FAILED and record.targets[2].state is TargetState.SKIPPED


def test_a_failed_child_ends_its_target_failed_and_a_handed_off_one_is_looked_at_again_later(
    world: World, campaign: Campaign
) -> None:
    operation_id = campaign.targets[0].operation_id
    gate(world, campaign, 0)
    world.engine.start(operation_id)
    going = steps.campaign_target_ended(world.engine, campaign.id, operation_id, outcome="succeeded")
    assert going["ended"] is False and going["wait_seconds"] == 60, "handed off: look again in a minute"
    later = steps.campaign_target_ended(world.engine, campaign.id, operation_id, outcome="succeeded", looked=3)
    assert later["wait_seconds"] == 480, "then less often"
    assert world.store.load_campaign(campaign.id).targets[0].state is TargetState.RUNNING

    failed = steps.campaign_target_ended(
        world.engine, campaign.id, operation_id, outcome="failed", error="States.TaskFailed"
    )
    assert failed["ended"] is True and failed["target_state"] == "failed"
    record = world.store.load_campaign(campaign.id)
    assert record.targets[0].state is TargetState.FAILED and "States.TaskFailed" in (record.targets[0].reason or "")
    assert record.state is CampaignState.FAILED, "the canary failed: the rest is skipped, nothing runs"
    again = steps.campaign_target_ended(world.engine, campaign.id, operation_id, outcome="failed")
    assert again["ended"] is True and again["target_state"] == "failed", "a retried end changes nothing"
    assert steps.campaign_targets(world.engine, campaign.id)["next"] == "done"


def test_the_approval_notice_is_asked_for_once_and_again_only_by_a_retry_of_the_same_look(
    world: World, campaign: Campaign
) -> None:
    record = world.store.load_campaign(campaign.id)
    canary = record.targets[0]
    canary.state, canary.operation_state = TargetState.COMPLETED, "completed"
    world.store.save_campaign(record)
    arn = "arn:aws:states:us-east-1:123456789012:execution:rds-maint-machine-campaign:c-steps"
    first = steps.campaign_targets(world.engine, campaign.id, waited=0, execution_arn=arn, looks=1)
    assert first["next"] == "wait" and first["notify"] is True and first["state"] == "awaiting_approval"
    assert first["approval"]["command"] == "rds-maint campaign resume c-steps" and first["approval"]["wave"] == 1
    retried = steps.campaign_targets(world.engine, campaign.id, waited=0, execution_arn=arn, looks=1)
    assert retried["notify"] is True, "the first answer may have been lost"
    later = steps.campaign_targets(world.engine, campaign.id, waited=1, execution_arn=arn, looks=2)
    assert later["notify"] is False and later["wait_seconds"] == 120
    assert world.store.load_campaign(campaign.id).execution_arn == arn


def test_a_nearly_full_history_hands_off_before_it_maps_a_wave(world: World, campaign: Campaign) -> None:
    looks = steps.HISTORY_BUDGET // steps.LOOK_EVENTS
    assert steps.campaign_targets(world.engine, campaign.id, looks=looks)["next"] == "handoff"
    near = steps.HISTORY_BUDGET // steps.TARGET_EVENTS  # the canary's wave would pass the budget
    assert steps.campaign_targets(world.engine, campaign.id, mapped=near)["next"] == "handoff"
    assert steps.campaign_targets(world.engine, campaign.id)["next"] == "map"


def test_the_lambda_dispatches_campaign_steps_and_fails_loudly_on_what_it_cannot_judge(
    world: World, campaign: Campaign
) -> None:
    handler = make_handler(world.engine_for)
    answer = handler({"action": "campaign_targets", "campaign_id": campaign.id, "params": {"waited": 0}})
    assert answer["next"] == "map" and [i["operation_id"] for i in answer["items"]] == [
        campaign.targets[0].operation_id
    ]
    assert answer["max_concurrency"] == 2 and answer["tolerated_failure_count"] == 0 and answer["distributed"] is False
    with pytest.raises(CampaignNotFound):  # a function error the machine does not retry: the execution fails
        handler({"action": "campaign_finish", "campaign_id": "c-nope"})
    with pytest.raises(Exception, match="campaign_id"):
        handler({"action": "campaign_gate", "operation_id": "x"})


def test_a_targets_status_events_and_webhook_notices_name_its_campaign(world: World, campaign: Campaign) -> None:
    from rds_maint.intervention import status_entries
    from rds_maint.model import Outcome, StepResult
    from rds_maint.notify import message_for

    gate(world, campaign, 0)
    op = world.store.load(campaign.targets[0].operation_id)
    [entry] = status_entries(op, world.store.events(op.id))
    assert json.loads(entry["Detail"])["campaign_id"] == campaign.id
    ended = StepResult(
        operation_id=op.id,
        operation_state="failed",
        step_index=None,
        step_name=None,
        step_action=None,
        step_state=None,
        outcome=Outcome.FAILED,
    )
    assert f"operation {op.id} of campaign {campaign.id} " in (message_for(op, ended) or "")
    alone = op.model_copy(update={"campaign_id": None})
    assert "campaign" not in (message_for(alone, ended) or "")


def test_a_retried_end_of_a_target_adds_its_operations_requests_to_the_campaign_once(
    world: World, campaign: Campaign
) -> None:
    engine = world.engine_for(Settings(store_url=world.store_url, region=REGION))  # the Lambda's, with its meter
    operation_id = campaign.targets[0].operation_id
    assert steps.campaign_gate(engine, campaign.id, operation_id, machine_arn=MACHINE)["decision"] == "start"
    assert world.run(operation_id, engine).outcome is Outcome.COMPLETED
    tally = world.store.load(operation_id).requests
    assert tally is not None and tally.requests > 10

    first = steps.campaign_target_ended(engine, campaign.id, operation_id)
    again = steps.campaign_target_ended(engine, campaign.id, operation_id)  # its answer was lost: retried
    assert first["ended"] is again["ended"] is True and again["target_state"] == "completed"
    rate = world.store.load_campaign(campaign.id).rate
    planning = campaign.rate  # the record starts with its planning's requests
    assert rate.requests == planning.requests + tally.requests, "added once"
    both = RequestTally.total([planning.tally, tally])
    assert rate.peak_rps == round(max(planning.peak_rps, both.peak_rps()), 3) > 0 and rate.seconds > 0


def test_a_target_whose_gate_was_retried_still_counts_in_the_busiest_minute_of_the_targets_before_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first gate created the operation (its preview's requests counted) and died; its retry recorded the
    start 25 s later, three slots on. Another target ending meanwhile must not let go of the slots the
    preview's busiest run began in: the seven slots from the recorded start's back would not reach them."""
    for cluster in CLUSTERS[:2]:
        world.sim.seed_cluster(
            cluster, engine="aurora-postgresql", engine_version="15.4", instance_class="db.r6g.large", readers=0
        )
    request = CampaignRequest(
        type=OperationType.INSTANCE_TYPE_CHANGE,
        target_ids=CLUSTERS[:2],
        region=REGION,
        params={"target_instance_type": "db.r6g.xlarge"},
        max_concurrency=2,
        canary=0,
    )
    record = campaign_of(plan_campaign(world.engine, request, "c-late"), world.clock.now())
    record.rate = RequestRate(started_at=world.clock.now())  # the targets' requests alone, planning's left out
    campaign = world.store.create_campaign(record)
    meter = SetMeter()
    engine = Engine(world.store, world.gateway, world.clock, request_meter=meter)
    first, late = (t.operation_id for t in campaign.targets)
    start = world.clock.now()

    def sent_at(seconds: int, operation_id: str, requests: int, state: OperationState | None = None) -> None:
        world.clock.sleep((start - world.clock.now()).total_seconds() + seconds)
        op = world.store.load(operation_id)
        op.state = state or op.state
        meter.pending = requests
        engine.save(op, [])

    assert steps.campaign_gate(engine, campaign.id, first, machine_arn=MACHINE)["decision"] == "start"
    sent_at(30, first, 10)
    world.clock.sleep(50)
    planned = engine.preview

    def preview_sending_three(*args: Any, **kwargs: Any) -> Any:
        answer = planned(*args, **kwargs)  # it forgets what came before, then plans
        meter.pending = 3  # what planning sent: the create that follows counts it
        return answer

    monkeypatch.setattr(engine, "preview", preview_sending_three)
    steps._create(engine, campaign, world.store.load_campaign(campaign.id).target(CLUSTERS[1]))  # at 80 s
    monkeypatch.undo()
    world.clock.sleep(25)
    assert steps.campaign_gate(engine, campaign.id, late, machine_arn=MACHINE)["decision"] == "start"  # 105 s
    sent_at(110, first, 0, OperationState.COMPLETED)
    assert steps.campaign_target_ended(engine, campaign.id, first)["ended"] is True
    sent_at(150, late, 1, OperationState.COMPLETED)
    assert steps.campaign_target_ended(engine, campaign.id, late)["ended"] is True

    rate = world.store.load_campaign(campaign.id).rate
    assert rate.requests == 14
    assert rate.peak_rps == round(13 / 60, 3), "30-90 s held the first target's 10 and the late one's 3"


def test_the_late_start_allowance_covers_every_attempt_of_the_campaign_gate() -> None:
    """`LATE_START_SECONDS` against the Gate's retries as the campaign machine ships them."""
    asl = json.loads((Path(__file__).resolve().parents[2] / "sfn" / "rds-maint-campaign.asl.json").read_text())
    for wave in ("InlineWave", "DistributedWave"):
        gate_state = asl["States"][wave]["ItemProcessor"]["States"]["Gate"]
        retries = gate_state["Retry"]
        attempts = 1 + sum(r["MaxAttempts"] for r in retries)
        waits = sum(
            r["IntervalSeconds"] * r.get("BackoffRate", 2.0) ** n for r in retries for n in range(r["MaxAttempts"])
        )
        assert attempts * gate_state["TimeoutSeconds"] + waits <= steps.LATE_START_SECONDS, wave
