"""The rehearsal account (`rds_sim.account`): what a command leaves in the directory, the next one finds,
changes under way included; one command at a time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

from rds_sim.account import AccountBusy, AccountError, create_account, open_account

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    create_account(tmp_path / "account")
    return tmp_path / "account"


def test_a_change_under_way_goes_on_in_the_next_process_as_time_passes(directory: Path) -> None:
    with open_account(directory) as account:
        writer, reader = account.sim.seed_cluster("c1", readers=1)
        account.sim.set_parameter_apply_status(reader, "pending-reboot")
        client = account.sim.clients(_client)(account.region)
        client.reboot_db_instance(DBInstanceIdentifier=reader)  # saved before the answer returns
        started = account.clock.now()
    with open_account(directory) as account:
        assert account.clock.now() == started
        reboots = [t for t in account.sim.transitions if t.kind == "reboot"]
        assert [(t.resource_id, t.ended) for t in reboots] == [(reader, False)]
        assert account.sim.cluster_view("c1").members[reader].parameter_apply_status == "pending-reboot"
        account.clock.advance(3600)
    with open_account(directory) as account:
        member = account.sim.cluster_view("c1").members[reader]
        assert (member.status, member.parameter_apply_status) == ("available", "in-sync")
        assert account.sim.cluster_view("c1").writer == writer


def test_a_second_command_waits_then_is_told_who_holds_the_account(directory: Path) -> None:
    busy = pytest.raises(AccountBusy, match="in use by another command")
    with open_account(directory), busy, open_account(directory, wait_seconds=0.2):
        pass


def test_a_directory_without_an_account_is_refused_and_an_account_is_not_made_twice(tmp_path: Path) -> None:
    with pytest.raises(AccountError, match="sim create"), open_account(tmp_path):
        pass
    create_account(tmp_path / "a")
    with pytest.raises(AccountError, match="already holds"):
        create_account(tmp_path / "a")


def _client(region: str) -> RDSClient:
    return boto3.client("rds", region_name=region)
