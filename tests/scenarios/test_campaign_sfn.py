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
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeAlias

import pytest

from rds_maint.campaign.planner import campaign_of, plan_campaign
from rds_maint.campaign_model import Campaign, CampaignRequest, CampaignState, TargetState
from rds_maint.engine import Engine
from rds_maint.lambda_handler import make_handler
from rds_maint.model import OperationState, OperationType
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.store import FileStore
from rds_sim import SimulatedAurora, VirtualClock
from sfn_harness import machine
from tests.helpers.world import REGION, World

JsonDict = dict[str, Any]
Harness: TypeAlias = machine.Harness[World]
SFN_DIR = Path(__file__).resolve().parents[2] / "sfn"

TARGET_CLASS = "db.r6g.xlarge"
CLUSTERS = [f"shop-{n}" for n in range(1, 6)]
GHOST = "shop-gone"  # no such cluster: refused at plan


@pytest.fixture
def sfn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serialised_aws: None) -> Iterator[Harness]:
    def make_world(sim: SimulatedAurora, clock: VirtualClock, store_url: str) -> World:
        store = FileStore(tmp_path / "state")
        clients = sim.clients(make_rds_client)
        engine = Engine(store, lambda region: RdsGateway(clients(region), sleep=clock.sleep), clock)
        return World(sim=sim, clock=clock, store=store, store_url=store_url, engine=engine)

    with machine.machine_in_moto(
        monkeypatch,
        tmp_path / "state",
        make_world,
        asl_path=SFN_DIR / "rds-maint-machine.asl.json",
        template_path=SFN_DIR / "template.yaml",
        make_handler=make_handler,
        campaign_asl_path=SFN_DIR / "rds-maint-campaign.asl.json",
    ) as harness:
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


def test_a_campaign_runs_every_runnable_target_through_its_own_operation_execution(sfn: Harness) -> None:
    world = sfn.world
    seed(world, CLUSTERS)
    campaign = make_campaign(world, [*CLUSTERS[:3], GHOST, *CLUSTERS[3:]], max_concurrency=2, skip_refused=True)
    assert campaign.target(GHOST).state is TargetState.REFUSED
    arn = sfn.start_campaign(campaign.id)
    done = sfn.wait_done(arn, timeout=240)
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["state"] == "completed" and output["counts"]["completed"] == 5 and output["counts"]["refused"] == 1

    record = world.store.load_campaign(campaign.id)
    assert record.state is CampaignState.COMPLETED
    for cluster in CLUSTERS:
        target = record.target(cluster)
        assert target.state is TargetState.COMPLETED, target
        assert world.store.load(target.operation_id).state is OperationState.COMPLETED
        assert changed(world, cluster), cluster
    children = sfn.executions()
    assert sorted(e["name"] for e in children) == sorted(record.target(c).operation_id for c in CLUSTERS)
    assert GHOST not in json.dumps(
        [world.store.load(t.operation_id).cluster_id for t in record.targets if t.target_id != GHOST]
    )
    assert all(record.target(c).execution_arn in {e["executionArn"] for e in children} for c in CLUSTERS)
