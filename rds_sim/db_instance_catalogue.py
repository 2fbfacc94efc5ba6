"""What AWS sells for RDS DB instances of MySQL, MariaDB and PostgreSQL: classes, and rows per storage type.

`catalogue.Catalogue` answers Aurora; for these three engines it asks this module which classes are orderable, and
`reference.describe_orderable_db_instance_options` asks it for the rows (one per storage type, as AWS answers for RDS
engines: DescribeOrderableDBInstanceOptions reference, `OrderableDBInstanceOption` with StorageType, Min/MaxStorageSize,
Min/MaxIopsPerGib, Min/MaxStorageThroughputPerDbInstance...). The classes are the current general-purpose, memory-
optimised and burstable families RDS sells for these engines (RDS user guide, "Supported DB engines for DB instance
classes"); a simulator list, not every region's.

Engine versions and their upgrade targets belong to the catalogue (another helper fills them); `FALLBACK_VERSIONS` is
used only while the catalogue knows no version of the engine, so that DB instance tests run before those land.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rds_sim.db_instance_storage import GP3_IOPS, GP3_THROUGHPUT, PIOPS_PER_GIB, PIOPS_RANGE, SIZE_RANGE

__all__ = [
    "FALLBACK_VERSIONS",
    "RDS_ENGINES",
    "major_of",
    "orderable_classes",
    "orderable_rows",
]

RDS_ENGINES = ("mysql", "mariadb", "postgres")
FALLBACK_VERSIONS: Mapping[str, tuple[str, ...]] = {
    "postgres": ("14.12", "15.7", "16.3", "16.4", "16.6", "17.2"),
    "mysql": ("8.0.36", "8.0.39", "8.0.40", "8.4.3"),
    "mariadb": ("10.6.18", "10.11.9", "11.4.4"),
}
_FAMILIES = ("m5", "m6g", "m6i", "m7g", "r5", "r6g", "r6i", "r7g")
_SIZES = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")
_BURSTABLE = tuple(f"db.{f}.{s}" for f in ("t3", "t4g") for s in ("micro", "small", "medium", "large", "xlarge"))
_LICENSE = {"postgres": "postgresql-license", "mysql": "general-public-license", "mariadb": "general-public-license"}


def major_of(engine: str, version: str) -> str:
    """PostgreSQL majors are one number (16); MySQL and MariaDB two (8.0, 10.11)."""
    parts = version.split(".")
    return parts[0] if engine == "postgres" else ".".join(parts[:2])


def orderable_classes(engine: str, version: str) -> set[str]:
    """Classes of this engine version (empty for an engine that is not MySQL, MariaDB or PostgreSQL)."""
    if engine not in RDS_ENGINES or not re.fullmatch(r"\d+(\.\d+)*", version):
        return set()
    return {f"db.{f}.{s}" for f in _FAMILIES for s in _SIZES} | set(_BURSTABLE)


def orderable_rows(engine: str, version: str, instance_class: str, zones: list[str]) -> list[dict[str, Any]]:
    """One DescribeOrderableDBInstanceOptions row per storage type, as AWS answers for an RDS engine."""
    rows = []
    for storage_type in ("gp2", "gp3", "io1", "io2", "standard"):
        low, high = SIZE_RANGE[storage_type]
        row: dict[str, Any] = {
            "Engine": engine,
            "EngineVersion": version,
            "DBInstanceClass": instance_class,
            "LicenseModel": _LICENSE[engine],
            "AvailabilityZones": [{"Name": zone} for zone in zones],
            "MultiAZCapable": True,
            "ReadReplicaCapable": True,
            "Vpc": True,
            "SupportsStorageEncryption": True,
            "StorageType": storage_type,
            "SupportsIops": storage_type in ("gp3", "io1", "io2"),
            "SupportsStorageThroughput": storage_type == "gp3",
            "SupportsEnhancedMonitoring": True,
            "SupportsIAMDatabaseAuthentication": True,
            "SupportsPerformanceInsights": True,
            "MinStorageSize": low,
            "MaxStorageSize": high,
            "AvailableProcessorFeatures": [],
            "SupportedEngineModes": ["provisioned"],
            "SupportsStorageAutoscaling": storage_type != "standard",
            "SupportsKerberosAuthentication": engine != "mariadb",
            "OutpostCapable": False,
            "SupportsGlobalDatabases": False,
            "SupportsClusters": False,
            "SupportedNetworkTypes": ["IPV4", "DUAL"],
            "SupportsDedicatedLogVolume": storage_type in ("io1", "io2"),
        }
        if storage_type in ("io1", "io2"):
            row |= {
                "MinIopsPerDbInstance": PIOPS_RANGE[0],
                "MaxIopsPerDbInstance": PIOPS_RANGE[1],
                "MinIopsPerGib": PIOPS_PER_GIB[storage_type][0],
                "MaxIopsPerGib": PIOPS_PER_GIB[storage_type][1],
            }
        if storage_type == "gp3":
            row |= {
                "MinIopsPerDbInstance": GP3_IOPS[0],
                "MaxIopsPerDbInstance": GP3_IOPS[1],
                "MinStorageThroughputPerDbInstance": GP3_THROUGHPUT[0],
                "MaxStorageThroughputPerDbInstance": GP3_THROUGHPUT[1],
                "MinStorageThroughputPerIops": 0.0,
                "MaxStorageThroughputPerIops": 0.25,
            }
        rows.append(row)
    return rows
