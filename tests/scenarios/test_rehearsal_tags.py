"""`sim create --tag KEY=VALUE`: a rehearsal account whose clusters and DB instances carry tags, so a
campaign by tag filter can be rehearsed; tags AWS would refuse are refused with exit 2 and nothing made."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rds_maint.rds import RdsGateway, make_rds_client
from rds_sim.account import open_account
from tests.helpers.rehearsal import cli, offline_rehearsal


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with offline_rehearsal(monkeypatch):
        yield


def tagged(account: Path, kind: str, key: str, value: str) -> list[str]:
    with open_account(account) as opened:
        gateway = RdsGateway(opened.sim.clients(make_rds_client)(opened.region))
        return gateway.tagged_targets(kind, key, value)  # type: ignore[arg-type]


def test_every_kind_of_target_can_be_tagged_and_is_then_found_by_its_tag(tmp_path: Path) -> None:
    account = tmp_path / "rehearsal"
    made = cli("sim", "create", "--dir", str(account), "--cluster", "orders-b", "--readers", "0",
               "--tag", "team=orders", "--tag", "env=prod")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "added orders-b (aurora-postgresql 15.4), tagged team=orders, env=prod:" in made.output
    for args in (
        ["--cluster", "orders-a", "--readers", "0", "--tag", "team=orders"],
        ["--multi-az-cluster", "orders-ledger", "--tag", "team=orders"],
        ["--cluster", "payments", "--readers", "0", "--tag", "team=payments"],
        ["--instance", "orders-db", "--tag", "team=orders"],
        ["--instance", "untagged-db"],
    ):
        result = cli("sim", "create", "--dir", str(account), *args)
        assert result.exit_code == 0, result.output
    shown = cli("sim", "create", "--dir", str(account), "--instance", "empty-db", "--tag", "note=", "--output", "json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["tags"] == {"note": ""}

    assert tagged(account, "cluster", "team", "orders") == ["orders-a", "orders-b", "orders-ledger"]
    assert tagged(account, "cluster", "env", "prod") == ["orders-b"]
    assert tagged(account, "instance", "team", "orders") == ["orders-db"]
    assert tagged(account, "instance", "note", "") == ["empty-db"]


@pytest.mark.parametrize(
    ("tag", "says"),
    [
        ("team", "--tag 'team': give KEY=VALUE"),
        ("=orders", "--tag '=orders': give KEY=VALUE"),
        ("aws:team=orders", "keys and values starting with aws: or rds: are AWS's own"),
        ("team=rds:orders", "keys and values starting with aws: or rds: are AWS's own"),
        ("k" * 129 + "=v", "a tag key has 1 to 128 characters"),
        ("team=" + "v" * 257, "a tag value has at most 256 characters"),
    ],
)
def test_a_tag_aws_would_refuse_is_refused_and_nothing_is_made(tmp_path: Path, tag: str, says: str) -> None:
    account = tmp_path / "rehearsal"
    result = cli("sim", "create", "--dir", str(account), "--cluster", "orders", "--tag", tag)
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert not account.exists()


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    account = tmp_path / "rehearsal"
    result = cli("sim", "create", "--dir", str(account), "--instance", "orders-db",
                 "--tag", "team=a", "--tag", "team=b")  # fmt: skip
    assert result.exit_code == 2 and "--tag team given twice" in result.output
    assert not account.exists()
