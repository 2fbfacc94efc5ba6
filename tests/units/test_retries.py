"""One retry layer, bounded: counted at botocore's `before-send`, which sees every attempt.

The simulator answers above botocore's retry handler (sim/wire.py), so these tests answer at
`before-send` instead (rds_sim/sends.py): a retry by botocore itself would show as an
extra send here. Counts, not timings.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rds_maint.errors import ThrottledAwsError, TransientAwsError
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.retry import MAX_SENDS, MUTATING_THROTTLED, READS
from rds_sim.sends import WIRE_KINDS, WireFaults, WireKind

REGION = "us-east-1"

MUTATING = {
    "ModifyDBInstance": lambda rds: rds.modify_instance("db-1", instance_class="db.r6g.xlarge"),
    "FailoverDBCluster": lambda rds: rds.failover("c1", "db-2"),
    "RebootDBInstance": lambda rds: rds.reboot_instance("db-1"),
    "ModifyDBCluster": lambda rds: rds.modify_cluster_storage("c1", "aurora-iopt1"),
    "DeleteDBInstance": lambda rds: rds.delete_instance("db-1"),
}


@pytest.fixture(autouse=True)
def _nowhere(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every send is answered by the wire faults; the endpoint is 127.0.0.1 besides."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", "http://127.0.0.1:9")
    yield


def gateway() -> tuple[RdsGateway, WireFaults, list[float]]:
    client = make_rds_client(REGION)
    slept: list[float] = []
    return RdsGateway(client, sleep=slept.append), WireFaults(client), slept


@pytest.mark.parametrize("kind", ["unavailable", "connection"])
@pytest.mark.parametrize("operation", sorted(MUTATING))
def test_a_mutating_call_whose_effect_is_unknown_is_sent_once(operation: str, kind: WireKind) -> None:
    rds, wire, slept = gateway()
    wire.arm(operation, kind)
    with pytest.raises(TransientAwsError):
        MUTATING[operation](rds)
    assert wire.sends[operation] == 1
    assert slept == []


@pytest.mark.parametrize("kind", ["unavailable", "connection", "throttle"])
def test_the_sdk_itself_sends_every_request_once_whatever_the_environment_asks(
    kind: WireKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "10")
    monkeypatch.setenv("AWS_RETRY_MODE", "legacy")
    client = make_rds_client(REGION)
    wire = WireFaults(client)
    wire.arm("RebootDBInstance", kind)
    with pytest.raises(Exception):  # noqa: B017 - botocore's own exception, whichever it is
        client.reboot_db_instance(DBInstanceIdentifier="db-1")
    assert wire.sends["RebootDBInstance"] == 1


@pytest.mark.parametrize("kind", WIRE_KINDS)
def test_a_read_that_keeps_failing_is_sent_a_bounded_number_of_times(kind: WireKind) -> None:
    rds, wire, slept = gateway()
    wire.arm("DescribeDBClusters", kind)
    with pytest.raises(TransientAwsError):
        rds.cluster_roles("c1")
    assert wire.sends["DescribeDBClusters"] == READS.attempts <= MAX_SENDS
    assert len(slept) == READS.attempts - 1
    assert all(0 <= s <= READS.cap for s in slept)


@pytest.mark.parametrize("kind", WIRE_KINDS)
def test_a_read_rides_out_a_few_failures_and_answers(kind: WireKind) -> None:
    rds, wire, _ = gateway()
    wire.arm("DescribeDBEngineVersions", kind, times=2)
    assert rds.engine_version("aurora-postgresql", "16.4") is None  # an empty answer once the faults are spent
    assert wire.sends["DescribeDBEngineVersions"] == 3


def test_a_throttled_mutating_call_is_sent_again_since_aws_applied_nothing() -> None:
    rds, wire, _ = gateway()
    wire.arm("ModifyDBInstance", "throttle")
    with pytest.raises(ThrottledAwsError):
        rds.modify_instance("db-1", instance_class="db.r6g.xlarge")
    assert wire.sends["ModifyDBInstance"] == MUTATING_THROTTLED.attempts <= MAX_SENDS


def test_a_call_asked_not_to_be_retried_is_sent_once_even_when_throttled() -> None:
    rds, wire, _ = gateway()
    wire.arm("DescribeDBClusters", "throttle")
    with pytest.raises(ThrottledAwsError):
        rds.call("DescribeDBClusters", retry_transient=False, DBClusterIdentifier="c1")
    assert wire.sends["DescribeDBClusters"] == 1
