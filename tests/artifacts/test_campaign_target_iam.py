"""The shipped IAM policies for a campaign named by a tag: the list calls it adds are allowed.

Resolving a tag lists every cluster or DB instance of the region: DescribeDBClusters / DescribeDBInstances
with no identifier, which IAM authorises on `cluster:*` / `db:*` (a required resource type the request does
not name; tests/helpers/iam_recorder.py). A policy scoped to named clusters would refuse it, so the
complete planning of tag campaigns is recorded on the simulator and evaluated against the operator's
policy (who plans) and the Lambda's (the campaign state machine's driver may plan again).
"""

from __future__ import annotations

import boto3
import pytest

from rds_maint.campaign.planner import CampaignPlan, plan_campaign
from rds_maint.campaign_model import CampaignRequest
from tests.helpers.iam_evaluator import Decision, Policy, evaluate
from tests.helpers.iam_recorder import ACCOUNT, Check, RequestRecorder
from tests.helpers.shipped_iam import shipped_policy
from tests.helpers.world import REGION, World

TAG = ("team", "orders")


def scene(world: World) -> None:
    world.sim.seed_cluster("orders-a", readers=1, tags=dict([TAG]))
    world.sim.seed_cluster("orders-b", readers=1, tags=dict([TAG]))
    world.sim.seed_multi_az_cluster("orders-ledger")
    client = boto3.client("rds", region_name=REGION)  # moto's own: the scenery, not the code
    ledger = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:orders-ledger"
    client.add_tags_to_resource(ResourceName=ledger, Tags=[{"Key": TAG[0], "Value": TAG[1]}])
    world.sim.seed_db_instance("orders-db", tags=dict([TAG]))


def recorded_plan(world: World, kind: str) -> tuple[CampaignPlan, RequestRecorder]:
    scene(world)
    request = CampaignRequest.model_validate(
        {"type": "instance_cycle", "kind": kind, "tag": TAG, "region": REGION, "max_concurrency": 2}
    )
    recorder = RequestRecorder(REGION)
    world.recorders.append(recorder.attach)
    try:
        plan = plan_campaign(world.engine, request, "c-iam")
    finally:
        world.recorders.remove(recorder.attach)
    assert plan.targets and not plan.refused, [t.refusal for t in plan.refused]
    return plan, recorder


def listing(recorder: RequestRecorder) -> list[Check]:
    """The checks of the list calls: a describe that names no cluster or instance."""
    return [c for c in recorder.checks if c.action.startswith("rds:Describe") and c.arn.endswith(":*")]


def denials(checks: list[Check], policies: list[Policy]) -> list[tuple[Check, Decision]]:
    return [(c, d) for c in checks if not (d := evaluate(policies, c.request())).allowed]


def report(found: list[tuple[Check, Decision]]) -> str:
    lines = [f"  {c.describe()} [evaluated as {c.evaluated_arn}]: {d.reason}" for c, d in found]
    return f"{len(found)} denied call(s); fix the policy in iam/:\n" + "\n".join(lines)


POLICIES = {
    "operator": ["operator-policy.json"],
    "lambda": ["lambda-policy.json"],
    "lambda_opt_in": ["lambda-policy.json", "opt-in-policy.json"],
}


@pytest.mark.parametrize("who", list(POLICIES))
@pytest.mark.parametrize(("kind", "listed"), [("cluster", "DescribeDBClusters"), ("instance", "DescribeDBInstances")])
def test_planning_a_campaign_by_tag_is_allowed_every_request(world: World, who: str, kind: str, listed: str) -> None:
    _plan, recorder = recorded_plan(world, kind)
    resource = "cluster" if kind == "cluster" else "db"
    assert [c.arn for c in listing(recorder) if c.action == f"rds:{listed}"] == [
        f"arn:aws:rds:{REGION}:{ACCOUNT}:{resource}:*"
    ], "one list call, authorised on every resource of its type"
    found = denials(recorder.checks, [shipped_policy(name) for name in POLICIES[who]])
    assert not found, report(found)


def test_a_policy_scoped_to_named_clusters_could_not_resolve_a_tag(world: World) -> None:
    """The evaluation sees the list call as it is: a grant on `orders-*` clusters does not cover it."""
    _plan, recorder = recorded_plan(world, "cluster")
    scoped: Policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["rds:DescribeDBClusters", "rds:DescribeDBInstances"],
                "Resource": [f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:orders-*"],
            }
        ],
    }
    found = denials([c for c in listing(recorder) if c.action == "rds:DescribeDBClusters"], [scoped])
    assert [c.arn for c, _ in found] == [f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:*"]
