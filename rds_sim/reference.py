"""`DescribeDBEngineVersions` and `DescribeOrderableDBInstanceOptions`, answered from the catalogue.

The shapes follow the RDS API reference (the fields the engine and a person read); the values
come from `Catalogue`, never from moto, whose lists are missing or outdated.
"""

from __future__ import annotations

from typing import Any

from rds_sim.catalogue import AURORA_MYSQL, AURORA_POSTGRESQL, MARIADB, MYSQL, POSTGRES, Catalogue, class_rank
from rds_sim.db_instance_catalogue import FALLBACK_VERSIONS, RDS_ENGINES, orderable_classes, orderable_rows
from rds_sim.paging import page

_LOG_TYPES = {
    AURORA_POSTGRESQL: ["postgresql"],
    AURORA_MYSQL: ["audit", "error", "general", "slowquery"],
    # RDS for PostgreSQL exports its log and the upgrade log; MySQL and MariaDB their four logs
    # (RDS user guide, "Publishing database logs to Amazon CloudWatch Logs").
    POSTGRES: ["postgresql", "upgrade"],
    MYSQL: ["audit", "error", "general", "slowquery"],
    MARIADB: ["audit", "error", "general", "slowquery"],
}


def describe_db_engine_versions(catalogue: Catalogue, params: dict[str, Any]) -> dict[str, Any]:
    wanted = _filters(params)
    engines = [params["Engine"]] if params.get("Engine") else catalogue.engines()
    rows: list[dict[str, Any]] = []
    for engine in engines:
        versions = catalogue.versions(engine)
        if params.get("DefaultOnly") and versions:
            versions = versions[-1:]
        for version in versions:
            family = catalogue.family(engine, version)
            if params.get("EngineVersion") not in (None, version):
                continue
            if params.get("DBParameterGroupFamily") not in (None, family):
                continue
            if not _passes(wanted, {"engine": engine, "engine-version": version, "db-parameter-group-family": family}):
                continue
            rows.append(_engine_version(catalogue, engine, version))
    return page(rows, params, "DBEngineVersions")


def describe_orderable_db_instance_options(
    catalogue: Catalogue, params: dict[str, Any], zones: list[str]
) -> dict[str, Any]:
    engine = str(params.get("Engine", ""))
    if engine in RDS_ENGINES:
        return _db_instance_orderable(catalogue, engine, params, zones)
    rows: list[dict[str, Any]] = []
    for version in catalogue.versions(engine):
        if params.get("EngineVersion") not in (None, version):
            continue
        for instance_class in sorted(catalogue.orderable(engine, version), key=_class_order):
            if params.get("DBInstanceClass") not in (None, instance_class):
                continue
            license_model = catalogue.license_model(engine)
            if params.get("LicenseModel") not in (None, license_model):
                continue
            rows.append(_orderable_option(engine, version, instance_class, license_model, zones))
    if params.get("Vpc") is False:
        rows = []  # Aurora runs only in a VPC
    return page(rows, params, "OrderableDBInstanceOptions")


def _db_instance_orderable(
    catalogue: Catalogue, engine: str, params: dict[str, Any], zones: list[str]
) -> dict[str, Any]:
    """MySQL, MariaDB, PostgreSQL: one row per storage type (db_instance_catalogue)."""
    rows: list[dict[str, Any]] = []
    for version in catalogue.versions(engine) or list(FALLBACK_VERSIONS.get(engine, ())):
        if params.get("EngineVersion") not in (None, version):
            continue
        for instance_class in sorted(orderable_classes(engine, version), key=_class_order):
            if params.get("DBInstanceClass") not in (None, instance_class):
                continue
            for row in orderable_rows(engine, version, instance_class, zones):
                if params.get("LicenseModel") in (None, row["LicenseModel"]):
                    rows.append(row)
    return page(rows, params, "OrderableDBInstanceOptions")


def _engine_version(catalogue: Catalogue, engine: str, version: str) -> dict[str, Any]:
    aurora = engine.startswith("aurora")
    row: dict[str, Any] = {
        "Engine": engine,
        "EngineVersion": version,
        "MajorEngineVersion": catalogue.major(engine, version),
        "DBParameterGroupFamily": catalogue.family(engine, version),
        "DBEngineDescription": catalogue.engine_description(engine),
        "DBEngineVersionDescription": catalogue.version_description(engine, version),
        "ValidUpgradeTarget": [
            {
                "Engine": target.engine,
                "EngineVersion": target.engine_version,
                "Description": target.description,
                "AutoUpgrade": False,
                "IsMajorVersionUpgrade": target.is_major_version_upgrade,
                "SupportedEngineModes": ["provisioned"],
                "SupportsParallelQuery": False,
                "SupportsGlobalDatabases": True,
                "SupportsBabelfish": engine == AURORA_POSTGRESQL,
                "SupportsLimitlessDatabase": False,
                "SupportsLocalWriteForwarding": engine == AURORA_MYSQL,
                "SupportsIntegrations": False,
            }
            for target in catalogue.upgrade_targets(engine, version)
        ],
        "ExportableLogTypes": list(_LOG_TYPES.get(engine, [])),
        "SupportsLogExportsToCloudwatchLogs": True,
        "SupportsReadReplica": True,
        "SupportedEngineModes": ["provisioned"],
        "SupportedFeatureNames": [],
        "Status": "available",
        "SupportsParallelQuery": False,
        "SupportsGlobalDatabases": True,
        "SupportsBabelfish": engine == AURORA_POSTGRESQL,
        "SupportsLimitlessDatabase": False,
        "SupportsCertificateRotationWithoutRestart": True,
        "SupportsLocalWriteForwarding": engine == AURORA_MYSQL,
        "SupportsIntegrations": False,
        "TagList": [],
    }
    if not aurora:
        # RDS engines: no engine modes, no Global Database, no Babelfish (DescribeDBEngineVersions of
        # postgres/mysql/mariadb list none of them).
        row["SupportedEngineModes"] = []
        row["SupportsGlobalDatabases"] = False
        row["SupportsBabelfish"] = False
        for target in row["ValidUpgradeTarget"]:
            target["SupportedEngineModes"] = []
            target["SupportsGlobalDatabases"] = False
            target["SupportsBabelfish"] = False
    return row


def _orderable_option(
    engine: str, version: str, instance_class: str, license_model: str, zones: list[str]
) -> dict[str, Any]:
    return {
        "Engine": engine,
        "EngineVersion": version,
        "DBInstanceClass": instance_class,
        "LicenseModel": license_model,
        "AvailabilityZones": [{"Name": zone} for zone in zones],
        "MultiAZCapable": False,
        "ReadReplicaCapable": False,
        "Vpc": True,
        "SupportsStorageEncryption": True,
        "StorageType": "aurora",
        "SupportsIops": False,
        "SupportsStorageThroughput": False,
        "SupportsEnhancedMonitoring": True,
        "SupportsIAMDatabaseAuthentication": True,
        "SupportsPerformanceInsights": True,
        "AvailableProcessorFeatures": [],
        "SupportedEngineModes": ["provisioned"],
        "SupportsStorageAutoscaling": False,
        "SupportsKerberosAuthentication": False,
        "OutpostCapable": False,
        "SupportsGlobalDatabases": True,
        "SupportsClusters": False,
        "SupportedNetworkTypes": ["IPV4", "DUAL"],
        "SupportsDedicatedLogVolume": False,
    }


def _class_order(instance_class: str) -> tuple[str, float]:
    family = instance_class.removeprefix("db.").partition(".")[0]
    return family, class_rank(instance_class)


def _filters(params: dict[str, Any]) -> dict[str, set[str]]:
    return {str(f["Name"]): {str(v) for v in f.get("Values", [])} for f in params.get("Filters") or []}


def _passes(wanted: dict[str, set[str]], values: dict[str, str]) -> bool:
    return all(values[name] in accepted for name, accepted in wanted.items() if name in values)
