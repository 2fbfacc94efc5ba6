"""The DB instance class change's AWS checks on their own (no simulator): a small stub of the answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from rds_maint.errors import BadInput
from rds_maint.model import InstanceTypeChangeParams, OperationType
from rds_maint.planning.db_instance_preflight import preflight_db_instance
from rds_maint.plans.db_instance_class import DbInstanceClassFacts
from rds_maint.ports import RdsPort
from rds_maint.snapshots import InstanceSnapshot

NOW = datetime(2026, 12, 2, tzinfo=UTC)


class Orderable:
    """DescribeOrderableDBInstanceOptions of one class: sold or not, Multi-AZ or not."""

    def __init__(self, sold: bool, multi_az_capable: bool) -> None:
        self.sold, self.multi_az_capable = sold, multi_az_capable

    def is_orderable(self, engine: str, engine_version: str, instance_class: str) -> bool:
        return self.sold

    def orderable_options(self, engine: str, engine_version: str, instance_class: str) -> list[dict[str, Any]]:
        return [{"DBInstanceClass": instance_class, "MultiAZCapable": self.multi_az_capable}] if self.sold else []


def instance(multi_az: bool) -> InstanceSnapshot:
    return InstanceSnapshot(
        id="orders-db",
        cluster_id=None,
        instance_class="db.m6g.large",
        status="available",
        engine="mysql",
        engine_version="8.0.36",
        availability_zone="us-east-1a",
        promotion_tier=1,
        parameter_group="default.mysql8.0",
        parameter_apply_status="in-sync",
        pending_class=None,
        tags={},
        multi_az=multi_az,
    )


def preflight(rds: Orderable, multi_az: bool, **params: Any) -> object:
    typed = InstanceTypeChangeParams.model_validate({"target_instance_type": "db.m6g.xlarge", **params})
    return preflight_db_instance(OperationType.INSTANCE_TYPE_CHANGE, cast(RdsPort, rds), instance(multi_az), typed, NOW)


def test_a_class_not_offered_multi_az_is_refused_for_a_multi_az_instance() -> None:
    with pytest.raises(BadInput, match=re.escape("not offered Multi-AZ for mysql 8.0.36")):
        preflight(Orderable(sold=True, multi_az_capable=False), multi_az=True)


def test_the_same_class_single_az_is_fine_with_allow_downtime_and_carries_the_expected_downtime() -> None:
    facts = preflight(Orderable(sold=True, multi_az_capable=False), multi_az=False, allow_downtime=True)
    assert isinstance(facts, DbInstanceClassFacts) and facts.expected_seconds == 1200


def test_a_class_not_sold_is_refused_with_the_command_to_check() -> None:
    with pytest.raises(BadInput, match="describe-orderable-db-instance-options --engine mysql"):
        preflight(Orderable(sold=False, multi_az_capable=False), multi_az=True)
