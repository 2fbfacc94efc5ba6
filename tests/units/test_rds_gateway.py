"""The RDS gateway: retries what is transient, classifies the rest, never sleeps for real in tests."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from rds_maint.errors import BusyAwsError, PersonAwsError, TransientAwsError
from rds_maint.rds import RdsGateway, make_rds_client


def gateway(attempts: int = 5) -> tuple[RdsGateway, Stubber, list[float]]:
    slept: list[float] = []
    client = make_rds_client("us-east-1")
    return RdsGateway(client, sleep=slept.append, attempts=attempts), Stubber(client), slept


def test_throttling_is_retried_with_jittered_backoff_then_succeeds() -> None:
    rds, stub, slept = gateway()
    for _ in range(3):
        stub.add_client_error("describe_db_instances", "Throttling", "Rate exceeded", 400)
    stub.add_response("describe_db_instances", {"DBInstances": []})
    with stub:
        assert rds.find_instance("db-1") is None
    assert len(slept) == 3
    assert all(0 <= s <= 20 for s in slept)
    assert rds.calls["DescribeDBInstances"] == 4


def test_retries_are_bounded_and_then_reported_as_transient() -> None:
    rds, stub, slept = gateway(attempts=3)
    for _ in range(3):
        stub.add_client_error("describe_db_clusters", "InternalFailure", "boom", 500)
    with stub, pytest.raises(TransientAwsError) as caught:
        rds.describe_cluster("c1")
    assert caught.value.code == "InternalFailure"
    assert len(slept) == 2


def test_busy_state_is_not_retried_here() -> None:
    rds, stub, slept = gateway()
    stub.add_client_error("modify_db_instance", "InvalidDBInstanceState", "not available", 400)
    with stub, pytest.raises(BusyAwsError):
        rds.modify_instance("db-1", instance_class="db.r6g.xlarge")
    assert slept == []


def test_other_errors_need_a_person_and_keep_the_aws_message() -> None:
    rds, stub, _ = gateway()
    stub.add_client_error("failover_db_cluster", "InvalidParameterCombination", "target must be a reader", 400)
    with stub, pytest.raises(PersonAwsError) as caught:
        rds.failover("c1", "db-1")
    assert caught.value.code == "InvalidParameterCombination"
    assert "target must be a reader" in str(caught.value)


def test_missing_instance_reads_as_none() -> None:
    rds, stub, _ = gateway()
    stub.add_client_error("describe_db_instances", "DBInstanceNotFound", "DBInstance db-9 not found.", 404)
    with stub:
        assert rds.find_instance("db-9") is None


def test_client_sends_each_request_once() -> None:
    client = make_rds_client("us-east-1")
    retries = getattr(client.meta.config, "retries", None)
    assert retries is not None and retries["mode"] == "standard"
    assert retries["total_max_attempts"] == 1  # botocore sends once: the gateway is the only retry layer
