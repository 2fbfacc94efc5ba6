"""`RdsGateway.tagged_targets` against RDS's own reply shapes (botocore's Stubber, nothing sent): every page
followed by its Marker, 100 rows asked a page, each row's TagList compared exactly, Neptune and DocumentDB
clusters and cluster members left out.

The simulator cannot show the cluster paging: moto 5.2.5 answers DescribeDBClusters with every cluster in one
reply, whatever MaxRecords says (docs/aws-behaviour.md, "Campaign targets"); RDS pages at 100.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from rds_maint.rds import RdsGateway

REGION = "us-east-1"


@pytest.fixture
def stubbed() -> Iterator[tuple[RdsGateway, Stubber]]:
    client = boto3.client("rds", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stub:
        yield RdsGateway(client, sleep=lambda _s: None), stub
        stub.assert_no_pending_responses()


def tags(**items: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in items.items()]


def cluster(name: str, engine: str = "aurora-postgresql", **tagged: str) -> dict[str, Any]:
    return {"DBClusterIdentifier": name, "Engine": engine, "TagList": tags(**tagged)}


def instance(name: str, cluster_id: str | None = None, **tagged: str) -> dict[str, Any]:
    row: dict[str, Any] = {"DBInstanceIdentifier": name, "TagList": tags(**tagged)}
    if cluster_id:
        row["DBClusterIdentifier"] = cluster_id
    return row


def test_every_page_of_clusters_is_read_and_only_rds_clusters_with_the_tag_are_kept(
    stubbed: tuple[RdsGateway, Stubber],
) -> None:
    gateway, stub = stubbed
    first = [cluster("orders-z", team="orders"), cluster("graph", "neptune", team="orders"), cluster("x", team="X")]
    second = [cluster("orders-a", "postgres", team="orders"), cluster("docs", "docdb", team="orders")]
    stub.add_response("describe_db_clusters", {"DBClusters": first, "Marker": "page-2"}, {"MaxRecords": 100})
    stub.add_response("describe_db_clusters", {"DBClusters": second}, {"MaxRecords": 100, "Marker": "page-2"})
    assert gateway.tagged_targets("cluster", "team", "orders") == ["orders-a", "orders-z"]
    assert gateway.calls["DescribeDBClusters"] == 2


def test_every_page_of_instances_is_read_and_cluster_members_are_left_out(stubbed: tuple[RdsGateway, Stubber]) -> None:
    gateway, stub = stubbed
    first = [instance("orders-db-2", team="orders"), instance("orders-a-instance-1", "orders-a", team="orders")]
    second = [instance("orders-db-1", team="orders"), instance("orders-db-3", team="orders-x"), instance("bare")]
    stub.add_response("describe_db_instances", {"DBInstances": first, "Marker": "m"}, {"MaxRecords": 100})
    stub.add_response("describe_db_instances", {"DBInstances": second}, {"MaxRecords": 100, "Marker": "m"})
    assert gateway.tagged_targets("instance", "team", "orders") == ["orders-db-1", "orders-db-2"]
