"""The storage rules of RDS DB instances (rds_maint.instance_storage) and the plan built on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rds_maint.errors import BadInput
from rds_maint.instance_storage import (
    InstanceStorageRequest,
    StorageConfig,
    changes_text,
    gp3_limits,
    last_storage_change,
    minimum_growth,
    next_storage_change_allowed,
    orderable_refusal,
    pending_storage,
    resolve_storage,
    shows,
)

PG = "postgres"
GP2_400 = StorageConfig("gp2", 400)
GP3_100 = StorageConfig("gp3", 100, 3000, 125)
GP3_500 = StorageConfig("gp3", 500, 12000, 500)


def resolve(current: StorageConfig, storage_type: str, **kw: int) -> InstanceStorageRequest:
    return resolve_storage(
        PG,
        current,
        storage_type=storage_type,
        iops=kw.get("iops"),
        storage_throughput=kw.get("storage_throughput"),
        allocated_storage=kw.get("allocated_storage"),
    )


def refusal(current: StorageConfig, storage_type: str, **kw: int) -> str:
    with pytest.raises(BadInput) as caught:
        resolve(current, storage_type, **kw)
    return str(caught.value)


# -- accepted requests: what is sent ------------------------------------------------------------------


def test_gp2_to_gp3_from_the_threshold_provisions_iops_and_throughput() -> None:
    request = resolve(GP2_400, "gp3", iops=15000, storage_throughput=750)
    assert request.target == StorageConfig("gp3", 400, 15000, 750)
    # Provisioned IOPS go with the size (ModifyDBInstance wants both)
    assert request.modify_arguments() == {
        "storage_type": "gp3",
        "iops": 15000,
        "storage_throughput": 750,
        "allocated_storage": 400,
    }
    assert (
        changes_text(request)
        == "type gp2 -> gp3, size 400 GiB (kept), IOPS baseline -> 15000, throughput baseline -> 750 MiB/s"
    )


def test_gp3_from_the_threshold_without_iops_takes_the_baseline_and_says_so() -> None:
    request = resolve(StorageConfig("gp2", 300), "gp3", allocated_storage=400)
    assert request.target == StorageConfig("gp3", 400, 12000, 500)
    assert request.filled == ("iops 12000", "storage_throughput 500")


def test_gp3_below_the_threshold_sends_no_iops_and_no_size_it_keeps() -> None:
    request = resolve(StorageConfig("gp2", 100), "gp3")
    assert request.target == StorageConfig("gp3", 100)
    assert request.modify_arguments() == {
        "storage_type": "gp3",
        "iops": None,
        "storage_throughput": None,
        "allocated_storage": None,
    }


def test_gp3_to_io2_keeps_the_size_and_takes_the_iops() -> None:
    request = resolve(GP3_500, "io2", iops=40000)
    assert request.target == StorageConfig("io2", 500, 40000)
    assert request.modify_arguments()["allocated_storage"] == 500


def test_io1_growing_keeps_its_iops_when_none_given() -> None:
    request = resolve(StorageConfig("io1", 200, 3000), "io1", allocated_storage=300)
    assert request.target == StorageConfig("io1", 300, 3000)
    assert request.filled == ("iops 3000",)


def test_oracle_threshold_is_200_gib_and_sql_server_has_none() -> None:
    assert gp3_limits("oracle-ee", 200).provisionable and not gp3_limits("oracle-ee", 199).provisionable
    assert not gp3_limits("mysql", 399).provisionable and gp3_limits("mariadb", 400).provisionable
    assert gp3_limits("sqlserver-se", 20).provisionable and gp3_limits("sqlserver-se", 20).threshold_gib is None


def test_growth_of_exactly_ten_percent_is_accepted() -> None:
    assert minimum_growth(100) == 110 and minimum_growth(333) == 367
    assert resolve(StorageConfig("gp2", 100), "gp2", allocated_storage=110).target.allocated_storage == 110


# -- refused requests: the rule, the values, what would be accepted ------------------------------------


@pytest.mark.parametrize(
    ("current", "storage_type", "kw", "words"),
    [
        (GP2_400, "aurora-iopt1", {}, ["unknown storage type", "'aurora-iopt1'", "gp2, gp3, io1, io2, standard"]),
        (GP2_400, "gp2", {"allocated_storage": 300}, ["only grows", "300 GiB", "current 400", "440 GiB or more"]),
        (GP2_400, "gp2", {"allocated_storage": 420}, ["at least 10 %", "420 GiB", "at least 440 GiB"]),
        (StorageConfig("gp2", 100), "gp3", {"iops": 4000}, ["gp3 below 400 GiB", "3000 IOPS", "iops 4000", "400"]),
        (
            StorageConfig("gp2", 100),
            "gp3",
            {"storage_throughput": 200},
            ["takes neither iops nor storage_throughput", "storage_throughput 200"],
        ),
        (GP2_400, "gp3", {"iops": 70000}, ["12000 to 64000 IOPS", "iops 70000"]),
        (GP2_400, "gp3", {"iops": 12000, "storage_throughput": 4000}, ["0.25 MiB/s per IOPS", "3000 MiB/s"]),
        (GP3_500, "io1", {}, ["io1 needs iops", "between 1000 and 25000"]),
        (GP3_500, "io1", {"iops": 30000}, ["0.5 to 50 IOPS per GiB", "iops 30000 for 500 GiB", "1000 and 25000"]),
        (GP3_500, "io2", {"iops": 600000}, ["io2 takes 0.5 to 1000 IOPS per GiB", "between 1000 and 256000"]),
        (GP3_500, "io2", {"iops": 10000, "storage_throughput": 600}, ["storage_throughput applies to gp3 only"]),
        (GP3_500, "gp2", {"iops": 3000}, ["gp2 has no provisioned IOPS"]),
        (StorageConfig("gp2", 50), "io1", {"iops": 1000}, ["io1 storage takes 100 to 65536 GiB", "50 GiB"]),
        (StorageConfig("gp2", 4000), "standard", {}, ["standard storage takes 5 to 3072 GiB"]),
        (GP3_500, "gp3", {}, ["nothing to change", "gp3, 500 GiB, 12000 IOPS, 500 MiB/s"]),
        (GP3_100, "gp3", {}, ["nothing to change"]),
    ],
)
def test_refusals_name_the_rule_the_values_and_what_works(
    current: StorageConfig, storage_type: str, kw: dict[str, int], words: list[str]
) -> None:
    message = refusal(current, storage_type, **kw)
    for word in words:
        assert word in message, (word, message)


# -- the 6-hour rule and what AWS shows ----------------------------------------------------------------


def test_the_last_storage_event_starts_the_six_hours() -> None:
    t0 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    events = [
        (t0, "Applying modification to allocated storage."),
        (t0 + timedelta(minutes=20), "Finished applying modification to allocated storage."),
        (t0 + timedelta(hours=1), "DB instance restarted"),
    ]
    last = last_storage_change(events)
    assert last == t0 + timedelta(minutes=20)
    assert next_storage_change_allowed(last) == t0 + timedelta(hours=6, minutes=20)
    assert last_storage_change([(t0, "DB instance restarted")]) is None
    auto = [(t0, "Finished applying autoscaling-initiated modification to allocated storage.")]
    assert last_storage_change(auto) == t0


def test_pending_storage_reads_only_storage_keys() -> None:
    assert pending_storage({"DBInstanceClass": "db.m6g.xlarge"}) is None
    assert pending_storage({"StorageType": "gp3", "Iops": 12000}) == StorageConfig("gp3", None, 12000)
    assert shows(StorageConfig("gp3", 400, 12000, 500), StorageConfig("gp3", 400, 12000, 500))
    assert not shows(StorageConfig("gp2", 400), StorageConfig("gp3", 400))


def test_orderable_rows_refuse_what_aws_does_not_offer_and_stay_silent_without_rows() -> None:
    target = StorageConfig("io2", 500, 40000)
    assert orderable_refusal([], target, PG, "16.4", "db.m6g.large") is None
    rows = [{"StorageType": "gp2"}, {"StorageType": "gp3"}]
    assert "offers no io2 storage" in str(orderable_refusal(rows, target, PG, "16.4", "db.m6g.large"))
    io2 = [
        {"StorageType": "io2", "MinStorageSize": 100, "MaxStorageSize": 65536, "MinIopsPerGib": 1, "MaxIopsPerGib": 50}
    ]
    assert "1 to 50 IOPS per GiB" in str(orderable_refusal(io2, target, PG, "16.4", "db.m6g.large"))
    gp3 = [{"StorageType": "gp3", "MinIopsPerDbInstance": 3000, "MaxIopsPerDbInstance": 16000}]
    assert "3000 to 16000 IOPS" in str(orderable_refusal(gp3, StorageConfig("gp3", 400, 20000, 500), PG, "16", "x"))
    assert orderable_refusal(gp3, StorageConfig("gp3", 400, 12000, 500), PG, "16", "x") is None
