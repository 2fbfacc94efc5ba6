"""Rehearsal accounts of every kind (DESIGN section 10): `sim create --instance` (Multi-AZ unless
`--single-az`) and `--multi-az-cluster` beside `--cluster`, refused with exit 2 and nothing made when the
flags do not fit the kind; `sim show` lists each with its class, status, zones and storage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.rehearsal import cli, offline_rehearsal


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with offline_rehearsal(monkeypatch):
        yield


def shown(account: Path) -> dict[str, Any]:
    result = cli("sim", "show", "--dir", str(account), "--output", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def test_an_account_holds_instances_and_multi_az_clusters_beside_aurora(tmp_path: Path) -> None:
    account = tmp_path / "rehearsal"
    made = cli("sim", "create", "--dir", str(account), "--instance", "orders-db", "--storage-type", "gp2",
               "--allocated-storage", "500")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "added DB instance orders-db (postgres 15.7, db.m6g.large, Multi-AZ, gp2 500 GiB)" in made.output
    assert "rds-maint plan --type storage_type_change --instance orders-db" in made.output
    small = cli("sim", "create", "--dir", str(account), "--instance", "small-db", "--single-az", "--engine", "mysql",
                "--class", "db.t4g.medium")  # fmt: skip
    assert small.exit_code == 0, small.output
    ledger = cli("sim", "create", "--dir", str(account), "--multi-az-cluster", "ledger", "--iops", "3000")
    assert ledger.exit_code == 0, ledger.output
    assert "ledger-instance-1, ledger-instance-2, ledger-instance-3" in ledger.output
    assert cli("sim", "create", "--dir", str(account), "--cluster", "prod-pg", "--readers", "1").exit_code == 0

    account_view = shown(account)
    instances = {i["instance_id"]: i for i in account_view["instances"]}
    assert set(instances) == {"orders-db", "small-db"}
    orders = instances["orders-db"]
    assert (orders["engine"], orders["instance_class"], orders["status"]) == ("postgres", "db.m6g.large", "available")
    assert (orders["multi_az"], orders["storage_type"], orders["allocated_storage"]) == (True, "gp2", 500)
    assert (instances["small-db"]["multi_az"], instances["small-db"]["engine"]) == (False, "mysql")
    assert instances["small-db"]["instance_class"] == "db.t4g.medium"
    clusters = {c["cluster_id"]: c for c in account_view["clusters"]}
    assert clusters["ledger"]["kind"] == "multi_az_cluster" and clusters["prod-pg"]["kind"] == "aurora_cluster"
    assert (clusters["ledger"]["instance_class"], clusters["ledger"]["storage_type"]) == ("db.m6gd.large", "io1")
    assert clusters["ledger"]["iops"] == 3000 and len(clusters["ledger"]["members"]) == 3

    text = cli("sim", "show", "--dir", str(account)).output
    assert "DB instance orders-db (postgres 15.7) is available; db.m6g.large, Multi-AZ us-east-1a" in text
    assert "storage gp2 500 GiB" in text
    assert "DB instance small-db (mysql 8.0.36) is available; db.t4g.medium, Single-AZ us-east-1a" in text
    assert "Multi-AZ DB cluster ledger (postgres 15.7) is available; class db.m6gd.large, storage io1 100 GiB" in text


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--instance", "a", "--cluster", "b"], "give one of --cluster NAME, --instance NAME or --multi-az-cluster"),
        ([], "give one of --cluster NAME"),
        (["--instance", "a", "--readers", "1"], "--readers does not apply to a DB instance"),
        (["--multi-az-cluster", "a", "--single-az"], "--single-az does not apply to a Multi-AZ DB cluster"),
        (["--cluster", "a", "--storage-type", "gp3"], "--storage-type does not apply to an Aurora cluster"),
        (["--multi-az-cluster", "a", "--storage-throughput", "500"], "--storage-throughput does not apply"),
        (["--instance", "a", "--storage-type", "io1"], "--storage-type io1 needs --iops"),
        (["--instance", "a", "--storage-type", "sc1"], "a DB instance takes one of gp2, gp3, io1, io2, standard"),
        (["--multi-az-cluster", "a", "--storage-type", "gp2"], "a Multi-AZ DB cluster takes one of io1, io2, gp3"),
        (["--instance", "a", "--engine", "aurora-mysql"], "a DB instance here runs one of postgres, mysql, mariadb"),
        (["--multi-az-cluster", "a", "--engine", "mariadb"], "a Multi-AZ DB cluster runs one of postgres, mysql"),
        (["--instance", "bad name!"], "--instance 'bad name!': a name starts with a letter"),
    ],
)
def test_what_does_not_fit_the_kind_is_refused_and_nothing_is_made(tmp_path: Path, args: list[str], says: str) -> None:
    account = tmp_path / "rehearsal"
    result = cli("sim", "create", "--dir", str(account), *args)
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert not account.exists()


def test_a_name_is_used_once_whatever_the_kind(tmp_path: Path) -> None:
    account = tmp_path / "rehearsal"
    assert cli("sim", "create", "--dir", str(account), "--cluster", "orders").exit_code == 0
    again = cli("sim", "create", "--dir", str(account), "--instance", "orders")
    assert again.exit_code == 2 and "already has a cluster orders" in again.output
    assert cli("sim", "create", "--dir", str(account), "--instance", "orders-db").exit_code == 0
    twice = cli("sim", "create", "--dir", str(account), "--multi-az-cluster", "orders-db", "--iops", "1000")
    assert twice.exit_code == 2 and "already has a DB instance orders-db" in twice.output
    assert [i["instance_id"] for i in shown(account)["instances"]] == ["orders-db"]
    assert [c["cluster_id"] for c in shown(account)["clusters"]] == ["orders"]


def test_an_instance_of_the_account_is_planned_as_a_db_instance(tmp_path: Path) -> None:
    account = tmp_path / "rehearsal"
    assert cli("sim", "create", "--dir", str(account), "--instance", "orders-db").exit_code == 0
    plan = cli("plan", "--type", "storage_type_change", "--instance", "orders-db", "--param",
               "target_storage_type=gp3", "--simulate", str(account))  # fmt: skip
    assert plan.exit_code == 0, plan.output
    assert "orders-db" in plan.output and "ModifyDBInstance" in plan.output
    listed = cli("list", "--instance", "orders-db", "--simulate", str(account))
    assert listed.exit_code == 0 and "No operations." in listed.output
