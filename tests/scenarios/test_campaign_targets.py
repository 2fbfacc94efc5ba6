"""Campaign targets by tag on the real gateway over the simulator: Aurora and Multi-AZ DB clusters for a
cluster campaign, DB instances of their own for an instance campaign (a cluster's member never is one),
every page of the describe read, and each target then planned as `rds-maint plan` plans it."""

from __future__ import annotations

import boto3
import pytest

from rds_maint.campaign.planner import plan_campaign
from rds_maint.campaign_model import CampaignRequest
from rds_maint.engine.cluster_mark import TAG_ACTIVE_OPERATION
from rds_maint.errors import BadInput
from tests.helpers.world import REGION, World

TAG = {"team": "orders"}
ACCOUNT = "123456789012"


def tag(resource_type: str, name: str, tags: dict[str, str]) -> None:
    """Tag a resource as a person would, with moto's own client (the scenery, not the code under test)."""
    client = boto3.client("rds", region_name=REGION)
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:{resource_type}:{name}"
    client.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


@pytest.fixture
def scene(world: World) -> World:
    world.sim.seed_cluster("orders-b", readers=1, tags=TAG)
    world.sim.seed_cluster("orders-a", readers=1, tags=TAG)
    world.sim.seed_cluster("payments", readers=1, tags={"team": "payments"})
    world.sim.seed_multi_az_cluster("orders-ledger")
    tag("cluster", "orders-ledger", TAG)
    world.sim.seed_db_instance("orders-db", tags=TAG)
    world.sim.seed_db_instance("orders-cache-db", multi_az=False, tags=TAG)
    world.sim.seed_db_instance("payments-db", tags={"team": "payments"})
    tag("db", "orders-a-instance-2", TAG)  # an Aurora member, tagged: never an instance target
    tag("db", "orders-ledger-instance-1", TAG)  # a Multi-AZ DB cluster's member, tagged: neither
    return world


def test_a_cluster_tag_names_aurora_and_multi_az_clusters_in_identifier_order(scene: World) -> None:
    # DescribeDBClusters lists Neptune clusters too (API reference): tagged alike, they are no RDS target
    boto3.client("rds", region_name=REGION).create_db_cluster(
        DBClusterIdentifier="orders-graph",
        Engine="neptune",
        MasterUsername="graph",
        MasterUserPassword="not-a-secret-0",
        Tags=[{"Key": k, "Value": v} for k, v in TAG.items()],
    )
    gateway = scene.gateway()
    assert gateway.tagged_targets("cluster", "team", "orders") == ["orders-a", "orders-b", "orders-ledger"]
    assert gateway.calls["DescribeDBClusters"] == 1, "one page holds them all"
    assert gateway.tagged_targets("cluster", "team", "Orders") == [], "tag values are compared exactly"


def test_an_instance_tag_names_db_instances_of_their_own_never_a_cluster_member(scene: World) -> None:
    gateway = scene.gateway()
    assert gateway.tagged_targets("instance", "team", "orders") == ["orders-cache-db", "orders-db"]
    assert gateway.tagged_targets("instance", "team", "payments") == ["payments-db"]


def test_every_page_of_the_describe_is_read(world: World) -> None:
    for n in range(101):
        world.sim.seed_db_instance(f"fleet-{n:03d}", tags={"fleet": "yes"} if n % 2 else {"fleet": "no"})
    gateway = world.gateway()
    found = gateway.tagged_targets("instance", "fleet", "yes")
    assert found == [f"fleet-{n:03d}" for n in range(1, 101, 2)]
    assert gateway.calls["DescribeDBInstances"] == 2, "100 rows a page: two pages"


def test_a_campaign_by_tag_plans_each_target_as_rds_maint_plan_would(scene: World) -> None:
    request = CampaignRequest.model_validate(
        {"type": "instance_cycle", "tag": ("team", "orders"), "region": REGION, "max_concurrency": 2}
    )
    before = len(scene.sim.calls)
    plan = plan_campaign(scene.engine, request, "c-tags")
    assert plan.requests == len(scene.sim.calls) - before > 3, "every RDS request of the planning counted"
    assert [t.target_id for t in plan.targets] == ["orders-a", "orders-b", "orders-ledger"]
    assert [t.operation_id for t in plan.targets] == ["c-tags-0001", "c-tags-0002", "c-tags-0003"]
    for target in plan.targets:
        preview = scene.engine.preview(
            {"type": "instance_cycle", "cluster_id": target.target_id, "region": REGION},
            operation_id=target.operation_id,
        )
        assert target.refusal is None and target.preview is not None, target.refusal
        assert [s.action for s in target.preview.plan.steps] == [s.action for s in preview.plan.steps]
    assert not [c for c in scene.sim.calls if not c.operation.startswith(("Describe", "List"))], "nothing changed"


def test_an_instance_campaign_by_tag_plans_the_instances_and_an_override_answers_one_refusal(scene: World) -> None:
    data = {"type": "instance_cycle", "kind": "instance", "tag": ("team", "orders"), "region": REGION}
    plan = plan_campaign(scene.engine, CampaignRequest.model_validate({**data, "max_concurrency": 1}), "c-dbs")
    assert [t.target_id for t in plan.targets] == ["orders-cache-db", "orders-db"]
    single_az, multi_az = plan.targets
    assert "'orders-cache-db' is Single-AZ: it is down while it reboots" in (single_az.refusal or "")
    assert multi_az.refusal is None
    overrides = {"orders-cache-db": {"allow_downtime": True}}
    request = CampaignRequest.model_validate({**data, "max_concurrency": 1, "overrides": overrides})
    again = plan_campaign(scene.engine, request, "c-dbs")
    assert [t.refusal for t in again.targets] == [None, None]
    assert [t.params for t in again.targets] == [{"allow_downtime": True}, {}]


def test_a_tag_no_target_carries_is_refused(scene: World) -> None:
    request = CampaignRequest.model_validate(
        {"type": "instance_cycle", "tag": ("team", "nobody"), "region": REGION, "max_concurrency": 1}
    )
    with pytest.raises(BadInput, match=f"^no cluster has tag team=nobody in {REGION}$"):
        plan_campaign(scene.engine, request, "c-none")


def test_a_tagged_cluster_another_store_is_running_on_is_refused_naming_its_operation(scene: World) -> None:
    tag("cluster", "orders-b", {TAG_ACTIVE_OPERATION: "their-op-1"})  # the mark a run from another store put on
    request = CampaignRequest.model_validate(
        {"type": "instance_cycle", "tag": ("team", "orders"), "region": REGION, "max_concurrency": 2}
    )
    plan = plan_campaign(scene.engine, request, "c-busy")
    (refused,) = plan.refused
    assert refused.target_id == "orders-b"
    assert "'their-op-1'" in (refused.refusal or "") and "rds-maint unlock orders-b" in (refused.refusal or "")
    assert [t.target_id for t in plan.runnable] == ["orders-a", "orders-ledger"]


def test_a_cluster_member_named_in_an_instance_campaign_is_refused_with_its_cluster(scene: World) -> None:
    request = CampaignRequest.model_validate(
        {
            "type": "instance_cycle",
            "kind": "instance",
            "target_ids": ["orders-a-instance-1", "orders-db"],
            "region": REGION,
            "max_concurrency": 1,
        }
    )
    plan = plan_campaign(scene.engine, request, "c-member")
    (refused,) = plan.refused
    assert refused.target_id == "orders-a-instance-1"
    assert "is a member of cluster 'orders-a'" in (refused.refusal or "")
