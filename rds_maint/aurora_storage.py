"""Aurora storage configuration rules (docs/aws-behaviour.md, "Storage"): pure, shared by preflight, plan and actions.

Aurora keeps storage at the cluster level: `aurora` (Standard) or `aurora-iopt1` (I/O-Optimized),
changed in place with ModifyDBCluster `StorageType`. io1/io2/gp3 (with `iops` and
`storage_throughput`) belong to RDS instances and Multi-AZ DB clusters, never to Aurora.
AWS allows a switch *to* I/O-Optimized once every 30 days (`IOOptimizedNextAllowedModificationTime`)
and back to Standard at any time. NVMe-based classes need an engine restart to apply the change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rds_maint.errors import BadInput
from rds_maint.model import StorageTypeChangeParams

if TYPE_CHECKING:  # only annotations read the snapshot type
    from rds_maint.snapshots import ClusterSnapshot

__all__ = [
    "AURORA_STORAGE_TYPES",
    "AURORA_TYPES_TEXT",
    "INSTANCE_STORAGE_TYPES",
    "IO_OPTIMIZED",
    "MINIMUMS_TEXT",
    "NAMES",
    "STANDARD",
    "StorageRequest",
    "as_utc",
    "check_storage_request",
    "io_optimized_refusal",
    "is_nvme_class",
    "storage_type_of",
    "supports_io_optimized",
]

STANDARD = "aurora"
IO_OPTIMIZED = "aurora-iopt1"
AURORA_STORAGE_TYPES = (STANDARD, IO_OPTIMIZED)
INSTANCE_STORAGE_TYPES = ("io1", "io2", "gp3", "gp2", "standard")
NAMES = {STANDARD: "Standard", IO_OPTIMIZED: "I/O-Optimized"}
AURORA_TYPES_TEXT = "'aurora' (Standard) or 'aurora-iopt1' (I/O-Optimized)"

# I/O-Optimized needs at least these versions (by major); majors not listed and below the first are too old.
_PG_MINIMUMS: dict[int, tuple[int, ...]] = {13: (13, 10), 14: (14, 7), 15: (15, 2), 16: (16, 1)}
_PG_FIRST_MAJOR = 13
_MYSQL_MINIMUM = (3, 3, 1)
_MYSQL_84_MINIMUM = (8, 4, 7)  # Aurora MySQL 8.4 numbers versions major.minor (8.4.7), without mysql_aurora
MINIMUMS_TEXT = {
    "aurora-postgresql": "Aurora PostgreSQL 13.10+, 14.7+, 15.2+, 16.1+ or any later major version",
    "aurora-mysql": "Aurora MySQL 3.03.1+ or 8.4.7+",
}

# A `d` after the generation digit: db.r6gd, db.r6id, db.r5d, db.x2iedn (local NVMe SSD).
_NVME_CLASS = re.compile(r"^db\.[a-z]+\d+[a-z]*d[a-z]*\.")


def storage_type_of(engine: str, reported: str | None) -> str | None:
    """The storage type a cluster has, from what DescribeDBClusters reports.

    An Aurora cluster that reports no StorageType is Aurora Standard (`aurora`): the botocore model
    marks the field optional, and clusters created before I/O-Optimized existed omit it
    (docs/aws-behaviour.md, "Storage"). The RDS gateway applies this to every cluster snapshot, so
    validation, the change's wait, verification and rollback all compare the same value.
    """
    if reported:
        return reported
    return STANDARD if engine.startswith("aurora") else None


def is_nvme_class(instance_class: str) -> bool:
    return _NVME_CLASS.match(instance_class) is not None


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def supports_io_optimized(engine: str, version: str) -> bool:
    """Whether the engine version meets the I/O-Optimized minimum."""
    if engine == "aurora-postgresql":
        key = _numbers(version)
        if not key or key[0] < _PG_FIRST_MAJOR:
            return False
        minimum = _PG_MINIMUMS.get(key[0])
        return minimum is None or key >= minimum
    if engine == "aurora-mysql":
        # 8.0.mysql_aurora.3.04.0 -> (3, 4, 0); Aurora MySQL version 2 (5.7) has no I/O-Optimized.
        match = re.search(r"mysql_aurora\.(\d+)\.(\d+)\.(\d+)", version)
        if match is None:
            return _numbers(version) >= _MYSQL_84_MINIMUM
        return tuple(int(g) for g in match.groups()) >= _MYSQL_MINIMUM
    return False


@dataclass(frozen=True)
class StorageRequest:
    """What a storage change will do, once the request passed every check."""

    current: str
    target: str
    next_allowed: datetime | None  # when AWS next allows a switch to I/O-Optimized, as read now


def check_storage_request(cluster: ClusterSnapshot, params: StorageTypeChangeParams) -> StorageRequest:
    """Every refusal that needs no clock: wrong kind of storage, unknown or equal target, versions."""
    target = params.target_storage_type
    if not cluster.engine.startswith("aurora"):
        raise BadInput(
            f"storage_type_change: cluster '{cluster.id}' runs {cluster.engine or 'an unknown engine'}; this "
            "version changes the storage of Aurora clusters only"
        )
    if target in INSTANCE_STORAGE_TYPES:
        raise BadInput(
            f"target_storage_type '{target}' is a storage type of RDS instances and Multi-AZ DB clusters, not of "
            f"Aurora: Aurora cluster '{cluster.id}' takes {AURORA_TYPES_TEXT}"
        )
    for field in ("iops", "storage_throughput"):
        if getattr(params, field) is not None:
            raise BadInput(
                f"{field} applies only to io1/io2/gp3 storage of RDS Multi-AZ DB clusters; Aurora cluster "
                f"'{cluster.id}' takes {AURORA_TYPES_TEXT}, without {field}: remove it"
            )
    if target not in AURORA_STORAGE_TYPES:
        raise BadInput(f"target_storage_type '{target}' is not an Aurora storage type: use {AURORA_TYPES_TEXT}")
    current = storage_type_of(cluster.engine, cluster.storage_type) or STANDARD
    if cluster.pending_storage_type:
        raise BadInput(
            f"cluster '{cluster.id}' is already changing its storage to '{cluster.pending_storage_type}'; "
            "retry once that change has finished"
        )
    if target == current:
        raise BadInput(
            f"target_storage_type '{target}' is already the storage type of cluster '{cluster.id}' "
            f"({NAMES[target]}); nothing to change"
        )
    if target == IO_OPTIMIZED and not supports_io_optimized(cluster.engine, cluster.engine_version):
        raise BadInput(
            f"target_storage_type 'aurora-iopt1': I/O-Optimized needs "
            f"{MINIMUMS_TEXT.get(cluster.engine, 'a newer engine')}; cluster '{cluster.id}' runs "
            f"{cluster.engine} {cluster.engine_version}: upgrade the engine first"
        )
    member_ids = [m.id for m in cluster.members]
    for name in params.exclude_instances:
        if name not in member_ids:
            raise BadInput(
                f"exclude_instances: '{name}' is not a member of cluster '{cluster.id}' "
                f"(members: {', '.join(member_ids) or 'none'})"
            )
    return StorageRequest(current=current, target=target, next_allowed=cluster.io_optimized_next_allowed)


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def io_optimized_refusal(cluster_id: str, next_allowed: datetime) -> str:
    """Why a switch to I/O-Optimized is refused before `next_allowed` (the date is in the message)."""
    return (
        f"target_storage_type 'aurora-iopt1': AWS allows one switch to I/O-Optimized every 30 days; cluster "
        f"'{cluster_id}' may switch again from {as_utc(next_allowed):%Y-%m-%d %H:%M} UTC "
        "(IOOptimizedNextAllowedModificationTime). Switching back to Standard is allowed at any time"
    )
