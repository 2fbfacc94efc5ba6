"""What the simulated region sells for Multi-AZ DB clusters: classes, versions, upgrade targets.

Why a table of its own: the Aurora catalogue (`catalogue.Catalogue`) knows only the Aurora engines, and
a Multi-AZ DB cluster runs RDS for MySQL or RDS for PostgreSQL on the classes with local NVMe storage
and the Graviton/Intel families AWS lists for them ("Instance class availability for Multi-AZ DB
clusters", RDS user guide: m5d, m6gd, m6id, r5d, r6gd, r6id, x2iedn, and m7g/r7g/r8g...). The rows carry
`SupportsClusters` (botocore model: "whether DB instances can be configured as a Multi-AZ DB cluster").
Major version upgrades of a Multi-AZ DB cluster exist only for RDS for PostgreSQL ("Upgrading a DB
instance engine version", RDS user guide); MySQL is offered minor targets only.
"""

from __future__ import annotations

from typing import Any

from rds_sim.catalogue import major_version, version_key
from rds_sim.paging import page

__all__ = [
    "MULTI_AZ_CLASSES",
    "MULTI_AZ_ENGINES",
    "MULTI_AZ_VERSIONS",
    "describe_engine_versions",
    "describe_orderable",
    "is_cluster_class",
    "is_major",
]

MULTI_AZ_ENGINES = ("mysql", "postgres")
MULTI_AZ_CLASSES = (
    "db.m5d.large",
    "db.m5d.xlarge",
    "db.m6gd.large",
    "db.m6gd.xlarge",
    "db.m6gd.2xlarge",
    "db.m6id.large",
    "db.r5d.large",
    "db.r6gd.large",
    "db.r6gd.xlarge",
    "db.r6gd.2xlarge",
    "db.r6id.large",
    "db.m7g.large",
    "db.r7g.large",
)
MULTI_AZ_VERSIONS: dict[str, tuple[str, ...]] = {
    "mysql": ("8.0.39", "8.0.40", "8.4.3"),
    "postgres": ("15.8", "16.4", "16.6", "17.2"),
}
_FAMILY = {"mysql": "mysql", "postgres": "postgres"}


def is_major(engine: str, current: str, target: str) -> bool:
    return major_version(engine, current) != major_version(engine, target)


def is_cluster_class(instance_class: str) -> bool:
    return instance_class in MULTI_AZ_CLASSES


def _targets(engine: str, version: str) -> list[str]:
    later = [v for v in MULTI_AZ_VERSIONS.get(engine, ()) if version_key(v) > version_key(version)]
    if engine == "mysql":
        return [v for v in later if not is_major(engine, version, v)]
    return later


def describe_engine_versions(params: dict[str, Any]) -> dict[str, Any]:
    engine = str(params.get("Engine", ""))
    rows = []
    for version in MULTI_AZ_VERSIONS.get(engine, ()):
        if params.get("EngineVersion") not in (None, version):
            continue
        rows.append(
            {
                "Engine": engine,
                "EngineVersion": version,
                "MajorEngineVersion": major_version(engine, version),
                "DBParameterGroupFamily": f"{_FAMILY[engine]}{major_version(engine, version)}",
                "ValidUpgradeTarget": [
                    {
                        "Engine": engine,
                        "EngineVersion": target,
                        "IsMajorVersionUpgrade": is_major(engine, version, target),
                        "AutoUpgrade": False,
                    }
                    for target in _targets(engine, version)
                ],
            }
        )
    return page(rows, params, "DBEngineVersions")


def describe_orderable(params: dict[str, Any], zones: list[str]) -> dict[str, Any]:
    engine = str(params.get("Engine", ""))
    rows = []
    for version in MULTI_AZ_VERSIONS.get(engine, ()):
        if params.get("EngineVersion") not in (None, version):
            continue
        for instance_class in MULTI_AZ_CLASSES:
            if params.get("DBInstanceClass") not in (None, instance_class):
                continue
            for storage_type in ("io1", "io2", "gp3"):
                rows.append(
                    {
                        "Engine": engine,
                        "EngineVersion": version,
                        "DBInstanceClass": instance_class,
                        "LicenseModel": "general-public-license" if engine == "mysql" else "postgresql-license",
                        "AvailabilityZones": [{"Name": z} for z in zones],
                        "MultiAZCapable": True,
                        "Vpc": True,
                        "StorageType": storage_type,
                        "SupportsIops": True,
                        "SupportsClusters": True,
                    }
                )
    return page(rows, params, "OrderableDBInstanceOptions")
