"""A campaign run in moto's Step Functions interpreter: the harness with the campaign machine, and the
campaign record made as `rds-maint campaign plan/run` makes it (tests/scenarios/test_campaign_sfn.py,
tests/artifacts/test_campaign_iam.py)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeAlias

import pytest

from rds_maint.campaign.planner import campaign_of, plan_campaign
from rds_maint.campaign_model import Campaign, CampaignRequest
from rds_maint.engine import Engine
from rds_maint.lambda_handler import make_handler
from rds_maint.model import OperationType
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.request_tally import SLOT_SECONDS, WINDOW_SECONDS, slot_of
from rds_maint.store import FileStore
from rds_sim import SimulatedAurora, VirtualClock
from rds_sim.views import SimCall
from sfn_harness import machine
from tests.helpers.meters import MARK_RELEASE
from tests.helpers.world import REGION, World

JsonDict = dict[str, Any]
Harness: TypeAlias = machine.Harness[World]
SFN_DIR = Path(__file__).resolve().parents[2] / "sfn"  # the ASLs and the template, as shipped

TARGET_CLASS = "db.r6g.xlarge"
CLUSTERS = [f"shop-{n}" for n in range(1, 6)]
GHOST = "shop-gone"  # no such cluster: refused at plan


@contextmanager
def machine_harness(root: Path, monkeypatch: pytest.MonkeyPatch, *, campaigns: bool = False) -> Iterator[Harness]:
    """The operation machine (and with `campaigns` the campaign machine) and the template's rules in moto,
    on a file store in `root / "state"` (callers also need the `serialised_aws` fixture: executions run in
    threads)."""

    def make_world(sim: SimulatedAurora, clock: VirtualClock, store_url: str) -> World:
        store = FileStore(root / "state")
        clients = sim.clients(make_rds_client)
        engine = Engine(store, lambda region: RdsGateway(clients(region), sleep=clock.sleep), clock)
        return World(sim=sim, clock=clock, store=store, store_url=store_url, engine=engine)

    with machine.machine_in_moto(
        monkeypatch,
        root / "state",
        make_world,
        asl_path=SFN_DIR / "rds-maint-machine.asl.json",
        template_path=SFN_DIR / "template.yaml",
        make_handler=make_handler,
        campaign_asl_path=SFN_DIR / "rds-maint-campaign.asl.json" if campaigns else None,
    ) as harness:
        yield harness


@contextmanager
def campaign_harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """`machine_harness` with the campaign machine, on a file store in `tmp_path`."""
    with machine_harness(tmp_path, monkeypatch, campaigns=True) as harness:
        yield harness


def seed(world: World, clusters: list[str]) -> None:
    for cluster in clusters:
        world.sim.seed_cluster(
            cluster, engine="aurora-postgresql", engine_version="15.4", instance_class="db.r6g.large", readers=0
        )


def make_campaign(world: World, targets: list[str], campaign_id: str = "c-test", **options: Any) -> Campaign:
    """The record `rds-maint campaign plan/run` stores: every target planned, refused ones recorded."""
    request = CampaignRequest(
        type=OperationType.INSTANCE_TYPE_CHANGE,
        target_ids=targets,
        region=REGION,
        params={"target_instance_type": TARGET_CLASS},
        **options,
    )
    plan = plan_campaign(world.engine, request, campaign_id)
    return world.store.create_campaign(campaign_of(plan, world.clock.now()))


def changed(world: World, cluster: str) -> bool:
    view = world.sim.cluster_view(cluster)
    return {m.instance_class for m in view.members.values()} == {TARGET_CLASS}


def wait_for(predicate: Any, what: str, harness: Harness, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not within {timeout}s; last calls: {harness.actions()[-8:]}")


def record_of(world: World, campaign_id: str) -> Campaign:
    return world.store.load_campaign(campaign_id)


def mark_releases(calls: list[SimCall]) -> set[int]:
    """The indexes in `calls` of each mark release (the Lambda's invocations run one at a time under
    `serialise_aws`, so a release's three calls are next to each other)."""
    found: set[int] = set()
    width = len(MARK_RELEASE)
    for end, call in enumerate(calls):
        if call.operation == MARK_RELEASE[-1] and end >= width - 1:
            first = end - width + 1
            if tuple(c.operation for c in calls[first : end + 1]) == MARK_RELEASE:
                found.update(range(first, end + 1))
    return found


def busiest_slots(calls: list[SimCall], window_seconds: int = WINDOW_SECONDS) -> int:
    """The most calls in the ten-second slots in a row a window of `window_seconds` can touch, one more than
    it spans (as `RequestTally.peak_requests` counts: seven for a minute)."""
    slots = Counter(slot_of(c.at) for c in calls)
    width = window_seconds // SLOT_SECONDS + 1
    return max((sum(slots[s + k] for k in range(width)) for s in slots), default=0)


def busiest_window(calls: list[SimCall], window_seconds: float = WINDOW_SECONDS) -> int:
    """The most calls in any window [start, start + `window_seconds`), whatever its start: the true busiest
    window, which is one that starts at a call."""
    span = timedelta(seconds=window_seconds)
    return max((sum(1 for c in calls if first.at <= c.at < first.at + span) for first in calls), default=0)
