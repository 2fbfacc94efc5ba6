"""Campaign planning on the in-memory fake: which targets a tag names, overrides, refusals, the expected
duration at the campaign's concurrency, and the plan a person reads (text) or a script reads (JSON)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from rds_maint.campaign.planner import (
    CampaignPlan,
    TargetPlan,
    campaign_of,
    campaign_seconds,
    plan_campaign,
    resolve_targets,
)
from rds_maint.campaign.schedule import wave_of_each
from rds_maint.campaign_model import CampaignRequest, TargetState
from rds_maint.cli.campaign_plan_view import plan_document, plan_text
from rds_maint.cli.plan_view import summary_json
from rds_maint.errors import BadInput
from tests.helpers.fake_rds import CLUSTER, MARK, NEW_CLASS, REGION, FakeWorld

CAMPAIGN = "c-20260105-090000-abcd"
TEAM = ("team", "orders")
BIGGER = "db.r6g.2xlarge"


def request(**extra: Any) -> CampaignRequest:
    data: dict[str, Any] = {
        "type": "instance_type_change",
        "region": REGION,
        "params": {"target_instance_type": NEW_CLASS},
        "max_concurrency": 2,
    }
    if "target_ids" not in extra and "tag" not in extra:
        data["tag"] = TEAM
    data.update(extra)
    return CampaignRequest.model_validate(data)


def tagged(world: FakeWorld, *clusters: str, value: str = "orders") -> None:
    """Clusters besides the seeded one, made in the order given, each tagged team=VALUE."""
    for cluster in clusters:
        if cluster not in world.rds.clusters:
            world.rds.add_cluster(cluster)
        world.rds.set_tag(cluster, "team", value)


# -- targets by tag ------------------------------------------------------------------------------


def test_a_tag_names_every_cluster_carrying_it_in_identifier_order(world: FakeWorld) -> None:
    tagged(world, "orders-c", "orders-a", CLUSTER)
    tagged(world, "payments-a", value="payments")
    world.rds.add_cluster("untagged-a")
    assert resolve_targets(world.engine, request()) == ["orders-a", "orders-c", CLUSTER]
    assert world.rds.calls["tagged_targets"] == 1


def test_an_instance_campaign_names_db_instances_of_their_own_never_a_cluster_member(world: FakeWorld) -> None:
    world.rds.standalone_tags.update({"orders-db-2": dict([TEAM]), "orders-db-1": dict([TEAM]), "other-db": {}})
    world.rds.instances[f"{CLUSTER}-instance-2"].tags.update(dict([TEAM]))  # a member, tagged: not a target
    world.rds.set_tag(CLUSTER, *TEAM)  # a cluster: not a target of an instance campaign
    assert resolve_targets(world.engine, request(kind="instance")) == ["orders-db-1", "orders-db-2"]


def test_a_tag_that_matches_nothing_is_refused_naming_it_and_the_region(world: FakeWorld) -> None:
    with pytest.raises(BadInput) as refused:
        plan_campaign(world.engine, request(tag=("team", "nobody")), CAMPAIGN)
    assert str(refused.value) == f"no cluster has tag team=nobody in {REGION}"


def test_a_tag_filter_without_a_key_is_refused_before_aws_is_asked(world: FakeWorld) -> None:
    with pytest.raises(BadInput, match="a tag filter needs a key: KEY=VALUE"):
        plan_campaign(world.engine, request(tag=(" ", "orders")), CAMPAIGN)
    assert world.rds.calls["tagged_targets"] == 0


def test_a_tag_carried_only_by_the_other_kind_of_target_says_so(world: FakeWorld) -> None:
    world.rds.standalone_tags["orders-db"] = dict([TEAM])
    with pytest.raises(BadInput) as refused:
        plan_campaign(world.engine, request(), CAMPAIGN)
    message = str(refused.value)
    assert message == (
        f"no cluster has tag team=orders in {REGION}; DB instances of their own carrying it: orders-db "
        "(a campaign of kind instance runs those)"
    )
    world.rds.standalone_tags.clear()
    tagged(world, CLUSTER)
    with pytest.raises(BadInput) as other:
        plan_campaign(world.engine, request(kind="instance", tag=("team", "orders")), CAMPAIGN)
    assert str(other.value).startswith(f"no DB instance has tag team=orders in {REGION}; DB clusters carrying it:")


# -- params and overrides ------------------------------------------------------------------------


def test_an_override_replaces_the_campaign_params_for_its_target_only(world: FakeWorld) -> None:
    tagged(world, "orders-a", CLUSTER)
    plan = plan_campaign(world.engine, request(overrides={"orders-a": {"target_instance_type": BIGGER}}), CAMPAIGN)
    by_id = {t.target_id: t for t in plan.targets}
    assert by_id["orders-a"].params == {"target_instance_type": BIGGER}
    assert by_id[CLUSTER].params == {"target_instance_type": NEW_CLASS}
    preview = by_id["orders-a"].preview
    assert preview is not None and preview.request.raw_params["target_instance_type"] == BIGGER
    assert not plan.refused


def test_an_override_key_the_type_does_not_take_refuses_that_target_only(world: FakeWorld) -> None:
    tagged(world, "orders-a", CLUSTER)
    plan = plan_campaign(world.engine, request(overrides={"orders-a": {"target_instanse_type": BIGGER}}), CAMPAIGN)
    (refused,) = plan.refused
    assert refused.target_id == "orders-a" and refused.preview is None
    assert "unknown parameter (did you mean 'target_instance_type'?)" in (refused.refusal or "")
    assert [t.target_id for t in plan.runnable] == [CLUSTER]


def test_a_typo_in_the_campaign_params_refuses_the_campaign_once_before_any_describe(world: FakeWorld) -> None:
    tagged(world, *(f"orders-{n}" for n in range(20)))
    described = world.rds.calls["find_cluster"]
    typo = request(params={"target_instanse_type": NEW_CLASS}, overrides={"orders-3": {"target_instance_type": BIGGER}})
    with pytest.raises(BadInput) as refused:
        plan_campaign(world.engine, typo, CAMPAIGN)
    message = str(refused.value)
    assert message.startswith("invalid instance_type_change params: ")  # the message `rds-maint plan` gives
    assert "params.target_instanse_type: unknown parameter (did you mean 'target_instance_type'?)" in message
    assert "\n" not in message and "orders-" not in message, "one message, not one per target"
    assert world.rds.calls["find_cluster"] == described, "no target was described"


def test_a_bad_value_every_target_shares_is_one_refusal_and_an_override_that_fixes_it_is_kept(
    world: FakeWorld,
) -> None:
    tagged(world, "orders-a", CLUSTER)
    with pytest.raises(BadInput, match="invalid instance_type_change params"):
        plan_campaign(world.engine, request(params={}), CAMPAIGN)
    # one target gets the class from its override: the other alone is refused, with the same reason
    plan = plan_campaign(
        world.engine, request(params={}, overrides={"orders-a": {"target_instance_type": BIGGER}}), CAMPAIGN
    )
    assert [t.target_id for t in plan.runnable] == ["orders-a"]
    assert [t.target_id for t in plan.refused] == [CLUSTER]
    assert "target_instance_type" in (plan.refused[0].refusal or "")


# -- refusals ------------------------------------------------------------------------------------


def test_each_refused_target_keeps_its_own_reason(world: FakeWorld) -> None:
    for cluster in ("orders-down", "orders-busy", "orders-foreign"):
        world.rds.add_cluster(cluster)
    world.rds.clusters["orders-down"].status = "modifying"
    world.rds.set_tag("orders-foreign", MARK, "someone-elses-op")  # the mark of an operation of another store
    holder = world.create(cluster_id="orders-busy")
    world.engine.start(holder.id)
    ids = ["orders-missing", "orders-down", "orders-busy", "orders-foreign", CLUSTER]
    plan = plan_campaign(world.engine, request(target_ids=ids), CAMPAIGN)
    reasons = {t.target_id: t.refusal or "" for t in plan.refused}
    assert set(reasons) == set(ids) - {CLUSTER}
    assert reasons["orders-missing"] == f"cluster 'orders-missing' not found in {REGION}"
    assert "is modifying, not available" in reasons["orders-down"]
    assert f"operation '{holder.id}'" in reasons["orders-busy"] and "holds its lock" in reasons["orders-busy"]
    assert "'someone-elses-op'" in reasons["orders-foreign"] and "another store" in reasons["orders-foreign"]
    assert [t.target_id for t in plan.runnable] == [CLUSTER]


def test_a_target_held_by_an_operation_of_this_store_is_refused_before_it_is_described(world: FakeWorld) -> None:
    world.rds.add_cluster("orders-busy")
    holder = world.create(cluster_id="orders-busy")
    world.engine.start(holder.id)
    world.rds.clusters["orders-busy"].tags.clear()  # only the store's lock says so (the mark still pending)
    described = world.rds.calls["find_cluster"]
    plan = plan_campaign(world.engine, request(target_ids=["orders-busy"]), CAMPAIGN)
    assert holder.id in (plan.targets[0].refusal or "")
    assert world.rds.calls["find_cluster"] == described


def test_a_refused_target_refuses_the_campaign_unless_skip_refused(world: FakeWorld) -> None:
    ids = ["orders-missing", CLUSTER]
    plan = plan_campaign(world.engine, request(target_ids=ids), CAMPAIGN)
    with pytest.raises(BadInput) as refused:
        campaign_of(plan, world.clock.now())
    assert "1 of 2 targets fail preflight" in str(refused.value)
    assert "orders-missing: cluster 'orders-missing' not found" in str(refused.value)
    assert "--skip-refused" in str(refused.value)
    skipping = plan_campaign(world.engine, request(target_ids=ids, skip_refused=True), CAMPAIGN)
    campaign = campaign_of(skipping, world.clock.now())
    assert [(t.target_id, t.state) for t in campaign.targets] == [
        ("orders-missing", TargetState.REFUSED),
        (CLUSTER, TargetState.PENDING),
    ]
    assert campaign.targets[0].reason == f"cluster 'orders-missing' not found in {REGION}"


# -- planning's own requests ---------------------------------------------------------------------


def test_planning_keeps_to_the_campaigns_budget_on_the_engines_clock(world: FakeWorld) -> None:
    ids = [f"orders-{n:02d}" for n in range(30)]
    tagged(world, *ids)
    began, sent = world.clock.now(), sum(world.rds.calls.values())
    plan = plan_campaign(world.engine, request(budget_rps=1.0), CAMPAIGN)
    rate = plan.rate
    assert len(plan.runnable) == 30
    assert rate.requests == sum(world.rds.calls.values()) - sent == rate.tally.requests  # what it sent, all of it
    # more than one minute's allowance in all (60 at 1 req/s), never more than it in any minute: paced
    assert rate.peak_rps <= 1.0 and rate.requests > 60
    # the tally's peak is an upper bound (seven slots hold any minute): at most one slot above the budget's
    assert rate.tally.peak_requests(60) <= 60 + max(rate.tally.slots.values())
    assert rate.started_at == began and world.clock.now() - began == timedelta(seconds=rate.seconds)
    assert rate.seconds >= 60  # it waited on the (fake) clock, as it would on AWS's


def test_the_campaign_record_starts_its_rate_from_its_planning(world: FakeWorld) -> None:
    tagged(world, "orders-a", CLUSTER)
    began = world.clock.now()
    plan = plan_campaign(world.engine, request(), CAMPAIGN)
    world.clock.sleep(600)  # a person reads the plan before saying yes
    campaign = campaign_of(plan, world.clock.now())
    assert campaign.rate.requests == plan.requests > 0
    assert campaign.rate.tally == plan.rate.tally and campaign.rate.started_at == began
    assert campaign.created_at == world.clock.now()


def test_planning_tells_its_progress_after_each_target(world: FakeWorld) -> None:
    tagged(world, "orders-a", "orders-b", CLUSTER)
    told: list[tuple[int, int]] = []
    ids = ["orders-a", "orders-missing", "orders-b"]
    plan_campaign(world.engine, request(target_ids=ids), CAMPAIGN, lambda planned, of: told.append((planned, of)))
    assert told == [(1, 3), (2, 3), (3, 3)]  # a refused target is planned too


# -- expected duration ---------------------------------------------------------------------------


def targets_of(seconds: list[float], *, canary: int = 1, wave_size: int | None = None) -> list[TargetPlan]:
    waves = wave_of_each(len(seconds), canary, wave_size)
    return [
        TargetPlan(i, f"t{i}", waves[i], f"{CAMPAIGN}-{i + 1:04d}", {}, None, None, s) for i, s in enumerate(seconds)
    ]


def test_twenty_targets_of_ten_minutes_five_at_a_time_after_a_canary_take_fifty_minutes() -> None:
    assert campaign_seconds(targets_of([600.0] * 20), 5) == 600 + 4 * 600


def test_duration_waits_for_each_wave_and_fills_the_first_free_slot() -> None:
    # no canary, one wave: 3 slots; 30 min, then 10+10+10 min fill the slots that free first
    assert campaign_seconds(targets_of([1800, 600, 600, 600, 600], canary=0), 3) == 1800
    # waves of 2 at concurrency 5: each wave lasts as long as its longest target
    assert campaign_seconds(targets_of([600, 1200, 300, 300], canary=0, wave_size=2), 5) == 1200 + 300
    # one at a time: the sum
    assert campaign_seconds(targets_of([100, 200, 300]), 1) == 600


def test_a_refused_target_takes_no_slot_time() -> None:
    targets = targets_of([600.0] * 6)
    refused = [replace(t, refusal="no", expected_seconds=0.0) for t in targets[1:3]]
    mixed = [targets[0], *refused, *targets[3:]]
    assert campaign_seconds(mixed, 2) == 600 + 1200  # the canary, then three left at 2 at a time: two rounds


def test_each_target_expects_what_its_own_plan_shows_and_the_campaign_adds_them_up(world: FakeWorld) -> None:
    tagged(world, "orders-a", "orders-b", CLUSTER)
    plan = plan_campaign(world.engine, request(max_concurrency=2), CAMPAIGN)
    for target in plan.targets:
        assert target.preview is not None
        assert target.expected_seconds == summary_json(target.preview)["expected_seconds"] > 0
    first, second, third = (t.expected_seconds for t in plan.targets)
    assert plan.expected_seconds == first + max(second, third)  # canary, then two at a time


# -- the plan view -------------------------------------------------------------------------------


def shown(world: FakeWorld, **extra: Any) -> CampaignPlan:
    tagged(world, "orders-a", "orders-b", CLUSTER)
    extra.setdefault("target_ids", ["orders-a", "orders-missing", "orders-b", CLUSTER])
    return plan_campaign(world.engine, request(**extra), CAMPAIGN)


def test_the_text_shows_each_target_then_the_campaign(world: FakeWorld) -> None:
    plan = shown(world, failure_tolerance={"percent": 25}, approve_waves=True)
    text = plan_text(plan)
    lines = text.splitlines()
    assert lines[0] == f"Campaign {CAMPAIGN}: instance_type_change on 4 clusters in {REGION}"
    assert lines[1].split() == [
        "#", "target", "wave", "operation", "steps", "expected", "write", "interruptions", "refusal",
    ]  # fmt: skip
    first = lines[2].split()
    assert first[:5] == ["1", "orders-a", "0", f"{CAMPAIGN}-0001", "9"]
    assert "2 failovers of about 35 s each" in lines[2]
    assert f"{CAMPAIGN}-0002" in lines[3] and "cluster 'orders-missing' not found in us-east-1 (below)" in lines[3]
    assert "Expected duration: about 1 h 32 min at most 2 at a time" in text
    assert "wave 0 (canary): 1 cluster" in text and "wave 1: 3 clusters, 2 runnable" in text
    assert "after a person approves it" in text
    assert "Failure tolerance: 25% of 4 targets = 1 target may fail; at 2 failed targets, no new target starts" in text
    assert "any failure in the canary wave stops it" in text
    assert "Request budget: 2 RDS requests/s for the whole campaign (the default)" in text
    # planning's own requests, paced by the budget on the engine's clock (4 targets: a few seconds)
    assert plan.requests > 0 and f"Planning: {plan.requests} RDS requests in 4 s (budget 2 req/s)" in text
    assert "Refused (1 of 4):\n  orders-missing: cluster 'orders-missing' not found in us-east-1" in text
    assert "--skip-refused would run the other 3 and record this one as refused" in text


def test_the_text_says_what_skip_refused_does_when_it_was_given(world: FakeWorld) -> None:
    text = plan_text(shown(world, skip_refused=True, budget_rps=1.5))
    assert "--skip-refused given: the other 3 run, these are recorded as refused" in text
    assert "Failure tolerance: 0 targets may fail; at 1 failed target, no new target starts" in text
    assert "Request budget: 1.5 RDS requests/s" in text and "(the default)" not in text


def test_the_document_carries_the_same_content_as_json(world: FakeWorld) -> None:
    plan = shown(world, overrides={"orders-b": {"target_instance_type": BIGGER}})
    document = json.loads(json.dumps(plan_document(plan)))
    assert document["campaign_id"] == CAMPAIGN and document["kind"] == "cluster" and document["tag"] is None
    assert document["params"] == {"target_instance_type": NEW_CLASS}
    assert document["overrides"] == {"orders-b": {"target_instance_type": BIGGER}}
    assert document["targets"][2]["params"] == {"target_instance_type": BIGGER}
    assert document["expected_seconds"] == plan.expected_seconds
    assert [w["targets"] for w in document["waves"]] == [1, 3]
    assert document["waves"][0]["canary"] is True and document["waves"][1]["runnable"] == 2
    assert document["failure_tolerance"]["allowed_failures"] == 0 and document["failure_tolerance"]["text"] == "0"
    assert document["runnable"] == 3 and document["planning_requests"] == plan.requests > 0
    assert document["planning"]["requests"] == plan.requests and document["planning"]["seconds"] == plan.rate.seconds
    assert 0 < document["planning"]["peak_rps"] <= plan.request.budget_rps
    assert document["refused"] == [
        {"target_id": "orders-missing", "refusal": f"cluster 'orders-missing' not found in {REGION}"}
    ]
    first, missing = document["targets"][:2]
    assert first["operation_id"] == f"{CAMPAIGN}-0001" and first["summary"]["steps"] == len(first["steps"]) == 9
    assert [i["kind"] for i in first["summary"]["write_interruptions"]] == ["failover", "failover"]
    assert missing["summary"] is None and missing["steps"] == [] and missing["expected_seconds"] == 0.0
    keys = set(document) | {k for t in document["targets"] for k in t}
    assert all(k == k.lower() and " " not in k for k in keys), "snake_case keys"


def test_a_tag_campaign_names_its_tag_in_both_forms(world: FakeWorld) -> None:
    plan = shown(world, target_ids=None, tag=TEAM)
    assert plan_text(plan).splitlines()[0].endswith("(tag team=orders)")
    assert plan_document(plan)["tag"] == {"key": "team", "value": "orders"}
