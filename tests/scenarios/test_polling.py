"""Adaptive polling: changes seen soon after they end, with few RDS describe calls.

What a user notices: how late the tool sees a change end (latency), and how much of the account's
shared RDS request budget (~12 requests/s) one operation uses while it waits.
"""

from __future__ import annotations

import math

import pytest

from rds_maint.actions.polling import EXPECTED_SECONDS, PollPolicy
from rds_maint.demo import SCENARIOS
from rds_maint.model import Outcome
from rds_maint.rds import RdsGateway
from tests.helpers.world import CLUSTER, REGION, World

FIXED_BASELINE = 30


def looks_until(policy: PollPolicy, transition: str, ends_after: float) -> tuple[int, float]:
    """How many looks a wait takes, and at what time the change is first seen done."""
    elapsed, looks = 0.0, 0
    while True:
        elapsed += policy.next_wait(transition, elapsed)
        looks += 1
        if elapsed >= ends_after:
            return looks, elapsed


TRANSITIONS = sorted(EXPECTED_SECONDS)


@pytest.mark.parametrize("transition", TRANSITIONS)
def test_a_change_is_seen_within_ten_percent_of_its_duration(transition: str) -> None:
    policy = PollPolicy()
    expected = policy.expected_for(transition)
    for fraction in [0.9 + i * 0.01 for i in range(60)] + [2.0, 3.0, 6.0]:
        duration = expected * fraction
        _, seen_at = looks_until(policy, transition, duration)
        # below 100 s the floor between looks (10 s) is the bound, not 10 %
        assert seen_at - duration <= max(0.1 * duration, policy.min_seconds), (transition, duration, seen_at)


@pytest.mark.parametrize("transition", [t for t in TRANSITIONS if EXPECTED_SECONDS[t] >= 480])
def test_a_long_wait_takes_far_fewer_looks_than_a_fixed_30_s_poll(transition: str) -> None:
    policy = PollPolicy()
    expected = policy.expected_for(transition)
    for fraction in (0.9, 1.0, 1.1, 1.2, 2.0, 4.0):
        duration = expected * fraction
        looks, _ = looks_until(policy, transition, duration)
        assert looks <= 0.7 * math.ceil(duration / FIXED_BASELINE), (transition, duration, looks)


def test_a_four_hour_blue_green_provisioning_is_followed_with_few_looks_and_never_unwatched_for_long() -> None:
    policy = PollPolicy()
    waits, elapsed = [], 0.0
    while elapsed < 4 * 3600:
        waits.append(policy.next_wait("blue_green_create", elapsed))
        elapsed += waits[-1]
    assert max(waits) <= policy.max_seconds == 120  # a failed deployment is seen within 2 minutes
    assert len(waits) <= 150  # against 480 looks at a fixed 30 s: mostly one every max_seconds
    assert elapsed - 4 * 3600 <= 0.1 * 4 * 3600


def test_looks_are_rare_early_and_frequent_near_the_expected_end() -> None:
    policy = PollPolicy()
    assert policy.next_wait("modify", 0) == 120  # nothing can be over yet: one look every max_seconds
    assert policy.next_wait("modify", 480) == 87  # then once at the quick end of the usual range
    assert policy.next_wait("modify", 600) == 30  # near the expected end: every 30 s at most
    assert policy.next_wait("modify", 1500) == 75  # a long overrun: back off with the time spent
    assert policy.next_wait("failover", 0) == 31
    assert policy.next_wait("failover", 31) == 10  # never closer than 10 s


def test_bigger_instances_are_expected_to_take_longer() -> None:
    policy = PollPolicy()
    assert policy.next_wait("create", 420, "db.r6g.large") < policy.next_wait("create", 420, "db.r6g.8xlarge")


def test_poll_interval_setting_forces_a_fixed_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RDS_MAINT_POLL_INTERVAL", "20")
    policy = PollPolicy.from_env()
    assert {policy.next_wait(t, e) for t in TRANSITIONS for e in (0, 100, 10_000)} == {20}


def test_expected_durations_can_be_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RDS_MAINT_EXPECTED_SECONDS", '{"failover": 100}')
    policy = PollPolicy.from_env()
    assert policy.next_wait("failover", 0) == 90
    assert policy.next_wait("modify", 0) == PollPolicy().next_wait("modify", 0)


# -- one describe call per look, on the simulated Aurora ------------------------------------------------

READ_PREFIXES = ("Describe", "List")


def drive_recording_looks(world: World, op_id: str) -> list[tuple[str, list[str]]]:
    """Drive an operation to its end; for every advance that only looked and went on waiting, the
    step and the RDS calls it made (the plan's own pauses are answered with continue)."""
    looks: list[tuple[str, list[str]]] = []
    world.engine.start(op_id)
    while True:
        before = len(world.sim.calls)
        result = world.engine.advance(op_id)
        calls = [c.operation for c in world.sim.calls[before:]]
        if result.outcome is Outcome.INTERVENTION and (result.pause_reason or "").startswith("Paused before"):
            world.engine.resume(op_id, "continue")
            continue
        assert result.outcome not in (Outcome.FAILED, Outcome.INTERVENTION), result.pause_reason
        if result.outcome is Outcome.COMPLETED:
            return looks
        only_looked = calls and all(c.startswith(READ_PREFIXES) for c in calls)
        if result.outcome is Outcome.WAIT and result.wait_seconds > 0 and only_looked:  # 0: a turn of `run`
            looks.append((result.step_name or "", calls))
        world.clock.sleep(result.wait_seconds)


def seeded(world: World, scenario: str, readers: int = 2) -> None:
    ids = world.sim.seed_cluster(CLUSTER, engine="aurora-postgresql", engine_version="15.4", readers=readers)
    prepare = SCENARIOS[scenario].prepare
    if prepare is not None:
        prepare(world.sim, CLUSTER, ids)


def test_every_look_of_a_class_change_costs_one_describe_call(world: World) -> None:
    seeded(world, "instance_type_change")
    op = world.create({"target_instance_type": "db.r6g.xlarge"})
    looks = drive_recording_looks(world, op.id)
    assert len(looks) >= 15
    assert [(step, calls) for step, calls in looks if len(calls) != 1] == []


def test_every_look_at_a_restarting_instance_costs_one_describe_call(world: World) -> None:
    seeded(world, "instance_cycle")
    op = world.engine.create(
        {"type": "instance_cycle", "cluster_id": CLUSTER, "region": REGION, "params": {"only_pending_reboot": True}}
    )
    looks = drive_recording_looks(world, op.id)
    reboot_looks = [calls for step, calls in looks if step.startswith("reboot:")]
    assert len(reboot_looks) >= 3
    assert all(calls == ["DescribeDBInstances"] for calls in reboot_looks), reboot_looks
    assert [(step, calls) for step, calls in looks if len(calls) != 1] == []


def test_an_engine_upgrade_follows_deletions_with_one_describe_and_a_proxy_with_one_call_per_api(
    world: World,
) -> None:
    seeded(world, "engine_upgrade")
    op = world.engine.create(
        {"type": "engine_upgrade", "cluster_id": CLUSTER, "region": REGION, "params": {"target_engine_version": "16.4"}}
    )
    looks = drive_recording_looks(world, op.id)
    deletions = [calls for step, calls in looks if step == "delete_old_cluster"]
    assert len(deletions) >= 4
    assert all(calls == ["DescribeDBClusters"] for calls in deletions), deletions
    proxy_looks = [calls for step, calls in looks if step == "verify_proxies"]
    later = proxy_looks[1:]  # the first look also finds which proxies track the cluster
    assert later and all(
        sorted(calls) == ["DescribeDBClusters", "DescribeDBProxies", "DescribeDBProxyTargets"] for calls in later
    ), proxy_looks
    others = [(step, calls) for step, calls in looks if step not in ("delete_old_cluster", "verify_proxies")]
    assert [(step, calls) for step, calls in others if len(calls) > 1 and step != "wait_green"] == []


def test_the_gateway_follows_a_cluster_deletion_to_its_end(world: World) -> None:
    gateway: RdsGateway = world.gateway()
    assert gateway.find_cluster_roles("no-such-cluster") is None
