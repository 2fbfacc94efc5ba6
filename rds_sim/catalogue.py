"""What AWS sells: Aurora and RDS (postgres, mysql, mariadb) engine versions, their upgrade paths and
orderable instance classes.

moto's `DescribeOrderableDBInstanceOptions` knows only aurora-postgresql (and an outdated list)
and it does not implement `DescribeDBEngineVersions` at all, yet the engine must check
orderability before every create or modify (a class AWS does not sell for the cluster's version
is refused with `InvalidParameterCombination`). This small, explicit catalogue is the
simulator's single source for those answers, so tests can reason about it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rds_sim.db_instance_catalogue import RDS_ENGINES, orderable_classes

AURORA_POSTGRESQL = "aurora-postgresql"
AURORA_MYSQL = "aurora-mysql"
# RDS engines of DB instances of their own and of Multi-AZ DB clusters (non-Aurora).
POSTGRES = "postgres"
MYSQL = "mysql"
MARIADB = "mariadb"
SERVERLESS_CLASS = "db.serverless"

DEFAULT_VERSIONS: Mapping[str, tuple[str, ...]] = {
    AURORA_POSTGRESQL: ("13.12", "14.9", "14.12", "15.4", "15.7", "16.1", "16.4", "17.4"),
    # Aurora MySQL 8.4 numbers its versions major.minor: 8.4.7 is the first (Aurora user guide, "Aurora MySQL
    # version 8.4 compatible with MySQL 8.4"); its parameter group family is aurora-mysql8.4.
    AURORA_MYSQL: ("8.0.mysql_aurora.3.04.0", "8.0.mysql_aurora.3.05.2", "8.0.mysql_aurora.3.07.1", "8.4.7"),
    # RDS for PostgreSQL: 15.3 and 14.8 are kept because Blue/Green major upgrades are not supported from
    # 15.3 and lower, 14.8 and lower, 13.11 and lower (RDS user guide, "PostgreSQL replication methods for
    # blue/green deployments"). Family postgres<major> (RDS user guide, "Parameter groups").
    # 15.8, 16.6 and 17.2 are also the versions Multi-AZ DB clusters take (rds_sim.multi_az_reference).
    POSTGRES: (
        "13.12",
        "14.8",
        "14.9",
        "14.12",
        "15.3",
        "15.4",
        "15.7",
        "15.8",
        "16.1",
        "16.4",
        "16.6",
        "17.2",
        "17.4",
    ),
    # RDS for MySQL 8.0 and 8.4 (major = two parts: families mysql8.0, mysql8.4).
    MYSQL: ("8.0.35", "8.0.36", "8.0.39", "8.0.40", "8.4.3", "8.4.4"),
    # RDS for MariaDB (families mariadb10.6, mariadb10.11, mariadb11.4).
    MARIADB: ("10.6.16", "10.11.6", "10.11.9", "11.4.3"),
}

_SIZES = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")
_CURRENT_FAMILIES = ("r5", "r6g", "r6i", "r7g", "x2g")
# NVMe-based classes (Aurora Optimized Reads): Aurora PostgreSQL 14.9+/15.4+/16.1+, Aurora MySQL 3.04.0+.
_NVME_FAMILIES = ("r6gd", "r6id")
_LICENSE_MODELS = {
    AURORA_POSTGRESQL: "postgresql-license",
    AURORA_MYSQL: "general-public-license",
    POSTGRES: "postgresql-license",
    MYSQL: "general-public-license",
    MARIADB: "general-public-license",
}
_ENGINE_DESCRIPTIONS = {
    AURORA_POSTGRESQL: "Aurora (PostgreSQL)",
    AURORA_MYSQL: "Aurora MySQL",
    POSTGRES: "PostgreSQL",
    MYSQL: "MySQL Community Edition",
    MARIADB: "MariaDB Community Edition",
}


@dataclass(frozen=True)
class UpgradeTarget:
    engine: str
    engine_version: str
    is_major_version_upgrade: bool
    description: str


def major_version(engine: str, version: str) -> str:
    """The major version: "15" for aurora-postgresql or postgres 15.4, "8.0" for Aurora MySQL 3 and
    MySQL 8.0.36, "10.11" for MariaDB 10.11.6 (RDS numbers MySQL and MariaDB majors with two parts)."""
    parts = version.split(".")
    return ".".join(parts[:2]) if engine in (AURORA_MYSQL, MYSQL, MARIADB) else parts[0]


def version_key(version: str) -> tuple[int, ...]:
    """Order versions numerically: 8.0.mysql_aurora.3.04.0 -> (8, 0, 3, 4, 0); 15.10 > 15.4."""
    return tuple(int(part) for part in re.findall(r"\d+", version))


def class_rank(instance_class: str) -> float:
    """Relative size of a class (medium < large < xlarge < 2xlarge ...), for failover choice.

    Aurora promotes, within one promotion tier, the largest reader. `db.serverless` has no
    fixed size; it ranks lowest, so a provisioned reader of the same tier wins.
    """
    size = instance_class.rsplit(".", 1)[-1]
    fixed = {"micro": 0.25, "small": 0.5, "medium": 1.0, "large": 2.0, "xlarge": 4.0}
    if size in fixed:
        return fixed[size]
    match = re.fullmatch(r"(\d+)xlarge", size)
    return 4.0 * int(match.group(1)) if match else 0.0


class Catalogue:
    """Aurora engine versions and instance classes, as `DescribeDBEngineVersions` and
    `DescribeOrderableDBInstanceOptions` would report them."""

    def __init__(self, versions: Mapping[str, Sequence[str]] | None = None) -> None:
        source = DEFAULT_VERSIONS if versions is None else versions
        self._versions = {engine: sorted(vs, key=version_key) for engine, vs in source.items()}

    def engines(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, engine: str) -> list[str]:
        """Known versions of `engine`, oldest first (empty for an unknown engine)."""
        return list(self._versions.get(engine, []))

    def has_version(self, engine: str, version: str) -> bool:
        return version in self._versions.get(engine, [])

    def major(self, engine: str, version: str) -> str:
        return major_version(engine, version)

    def family(self, engine: str, version: str) -> str:
        """Parameter group family: aurora-postgresql15, aurora-mysql8.0, postgres16, mysql8.0, mariadb10.11."""
        return f"{engine}{self.major(engine, version)}"

    def license_model(self, engine: str) -> str:
        return _LICENSE_MODELS.get(engine, "general-public-license")

    def upgrade_targets(self, engine: str, version: str) -> list[UpgradeTarget]:
        """Every newer version: minors within the major, and every version of a later major."""
        if not self.has_version(engine, version):
            return []
        current = version_key(version)
        major = self.major(engine, version)
        return [
            UpgradeTarget(
                engine=engine,
                engine_version=v,
                is_major_version_upgrade=self.major(engine, v) != major,
                description=self.version_description(engine, v),
            )
            for v in self.versions(engine)
            if version_key(v) > current
        ]

    def orderable(self, engine: str, version: str) -> set[str]:
        """Instance classes AWS sells for this engine version (empty if the version is unknown)."""
        if engine in RDS_ENGINES:  # DB instances of MySQL, MariaDB, PostgreSQL (db_instance_catalogue)
            return orderable_classes(engine, version)
        if not self.has_version(engine, version):
            return set()
        major = version_key(version)[0]
        classes = {f"db.{family}.{size}" for family in _CURRENT_FAMILIES for size in _SIZES}
        classes |= {"db.t4g.medium", SERVERLESS_CLASS}
        if not (engine == AURORA_POSTGRESQL and major >= 17):
            classes.add("db.t3.medium")
        if engine == AURORA_POSTGRESQL and major < 14:
            classes |= {f"db.r4.{size}" for size in _SIZES}
        if _has_optimized_reads(engine, version):
            classes |= {f"db.{family}.{size}" for family in _NVME_FAMILIES for size in _SIZES}
        return classes

    def is_orderable(self, engine: str, version: str, instance_class: str) -> bool:
        return instance_class in self.orderable(engine, version)

    def engine_description(self, engine: str) -> str:
        return _ENGINE_DESCRIPTIONS.get(engine, engine)

    def version_description(self, engine: str, version: str) -> str:
        if engine == AURORA_POSTGRESQL:
            return f"Aurora PostgreSQL (Compatible with PostgreSQL {version})"
        if engine == AURORA_MYSQL:
            if "mysql_aurora." not in version:
                return f"Aurora MySQL {version} (compatible with MySQL {self.major(engine, version)})"
            return f"Aurora MySQL {version.split('mysql_aurora.')[-1]} (compatible with MySQL 8.0)"
        if engine == POSTGRES:
            return f"PostgreSQL {version}-R1"
        if engine == MYSQL:
            return f"MySQL {version}"
        if engine == MARIADB:
            return f"MariaDB {version}"
        return f"{engine} {version}"


def _has_optimized_reads(engine: str, version: str) -> bool:
    key = version_key(version)
    if engine == AURORA_MYSQL:
        return key[2:] >= (3, 4, 0) or (key[:2] >= (8, 4) and "mysql_aurora" not in version)
    if engine == AURORA_POSTGRESQL:
        return (14, 9) <= key < (15,) or (15, 4) <= key < (16,) or key >= (16, 1)
    return False
