"""`campaign status` shows the RDS request rate a campaign has used so far, however it is driven.

On Step Functions a target's requests reach the campaign's record only when the target ends
(`campaign_target_ended`), so status adds the tallies of the targets still running; a campaign driven by
`campaign run` has its rate kept in the record by its driver, which status shows as it is. The targets'
operations are made by a metered engine (`wiring.build_engine`, as the Lambda's is), and their tallies are
checked against the RDS calls the simulator answered.
"""

from __future__ import annotations

import json
from typing import Any

from click.testing import Result

from rds_maint.campaign import machine_steps, schedule
from rds_maint.campaign.planner import campaign_of, operation_request, plan_campaign
from rds_maint.campaign_model import Campaign, CampaignRequest, TargetState
from rds_maint.config import Settings
from rds_maint.engine import Engine
from rds_maint.model import Operation, OperationType
from tests.helpers.world import ON_EVERY_STORE, REGION, World

CLUSTERS = ["pay-a", "pay-b", "pay-c"]
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:rds-maint-campaign:c-rate"


def _status(world: World) -> dict[str, Any]:
    result: Result = world.cli(["campaign", "status", "c-rate", "--store", world.store_url, "--output", "json"])
    assert result.exit_code == 0, result.output
    rate = json.loads(result.output)["rate"]
    assert isinstance(rate, dict)
    return rate


def _stored(world: World, engine: Engine, *, on_step_functions: bool) -> Campaign:
    for name in CLUSTERS:
        world.sim.seed_cluster(name, instance_class="db.r6g.large", readers=1)
    request = CampaignRequest(
        type=OperationType.INSTANCE_TYPE_CHANGE,
        target_ids=CLUSTERS,
        region=REGION,
        params={"target_instance_type": "db.r6g.xlarge"},
        max_concurrency=2,
        canary=0,
    )
    campaign = campaign_of(plan_campaign(engine, request, "c-rate"), world.clock.now())
    if on_step_functions:
        campaign.execution_arn = EXECUTION
    return world.store.create_campaign(campaign)


def _start(world: World, engine: Engine, index: int) -> Operation:
    """What the campaign gate does for a target: its operation made under its fixed id, started, recorded."""
    campaign = world.store.load_campaign("c-rate")
    target = campaign.targets[index]
    request = operation_request(campaign.request, target.target_id)
    preview = engine.preview(request, REGION, operation_id=target.operation_id)
    op = engine.create_from_preview(preview, campaign_id=campaign.id)
    engine.start(op.id)
    schedule.mark_started(campaign, campaign.targets[index], world.clock.now())
    world.store.save_campaign(campaign)
    return op


def _advance(world: World, engine: Engine, op_id: str, times: int) -> None:
    for _ in range(times):
        result = engine.advance(op_id)
        world.clock.sleep(max(result.wait_seconds, 1))


def _tally(world: World, op_id: str) -> int:
    requests = world.store.load(op_id).requests
    assert requests is not None, "a campaign target keeps a tally"
    return requests.requests


@ON_EVERY_STORE
def test_status_adds_the_running_targets_requests_to_a_step_functions_campaigns_record(world: World) -> None:
    engine = world.engine_for(Settings.from_env())
    _stored(world, engine, on_step_functions=True)
    calls_before = len(world.sim.calls)
    first, second = _start(world, engine, 0), _start(world, engine, 1)
    _advance(world, engine, first.id, 6)
    _advance(world, engine, second.id, 4)

    sent = len(world.sim.calls) - calls_before
    tallies = _tally(world, first.id) + _tally(world, second.id)
    assert tallies == sent, "every RDS call of the targets is in their tallies: none runs after a final save yet"
    recorded = world.store.load_campaign("c-rate").rate.requests
    rate = _status(world)
    assert rate["requests"] == recorded + sent
    assert rate["peak_rps"] > 0 and rate["seconds"] > 0
    assert rate["budget_rps"] == 2.0

    # the first target ends: its tally moves into the record, and status counts it once
    for _ in range(400):
        if world.store.load(first.id).state.is_final:
            break
        _advance(world, engine, first.id, 1)
    ended = machine_steps.campaign_target_ended(engine, "c-rate", first.id)
    assert ended["ended"] is True and ended["target_state"] == TargetState.COMPLETED.value
    record = world.store.load_campaign("c-rate")
    assert record.rate.requests == recorded + _tally(world, first.id)
    everything = len(world.sim.calls) - calls_before
    assert _tally(world, first.id) + _tally(world, second.id) == everything, "the mark's release after the end too"
    # the save that keeps the release's requests leaves the store's listing as the final save left it
    [listed] = [s for s in world.store.summaries() if s.id == first.id]
    assert listed.state.value == "completed"
    assert world.engine.lock_holder("pay-a", REGION) is None
    assert _status(world)["requests"] == record.rate.requests + _tally(world, second.id)
    assert {m.instance_class for m in world.sim.cluster_view("pay-a").members.values()} == {"db.r6g.xlarge"}


def test_status_shows_a_locally_driven_campaigns_rate_as_its_driver_saved_it(world: World) -> None:
    engine = world.engine_for(Settings.from_env())
    stored = _stored(world, engine, on_step_functions=False)
    op = _start(world, engine, 0)
    _advance(world, engine, op.id, 3)
    assert _tally(world, op.id) > 0
    rate = _status(world)
    assert rate["requests"] == stored.rate.requests, "the local driver's own count, not the targets' added again"
