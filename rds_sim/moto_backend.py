"""The real resources of the simulated account, kept in moto behind a plain boto3 client.

The simulator never touches moto's internals: it creates, modifies and deletes resources
through the public RDS API of a client it makes itself (not through `make_rds_client`, so the
simulator does not simulate its own calls). That keeps it working across moto upgrades, and
moto stays the one source of truth for what exists, its tags, tiers, zones and current writer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.loaders import Loader

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

INSTANCE_NOT_FOUND = ("DBInstanceNotFound", "DBInstanceNotFoundFault")
CLUSTER_NOT_FOUND = ("DBClusterNotFoundFault", "DBClusterNotFound")

_LOADER: list[Loader] = []


def _shared_loader() -> Loader:
    """One botocore data loader for every simulator: parsing the RDS model costs ~0.1 s a time.

    The session (and so the credentials) stays fresh per simulator; only the read-only service
    model files are shared.
    """
    if not _LOADER:
        _LOADER.append(Loader())
    return _LOADER[0]


class MotoRds:
    """Thin, untyped-response access to moto's RDS for one region."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._client: RDSClient | None = None

    @property
    def client(self) -> RDSClient:
        """Made on first use, so a simulator built before `mock_aws()` starts still works."""
        if self._client is None:
            core = botocore.session.get_session()
            core.register_component("data_loader", _shared_loader())
            session = boto3.session.Session(botocore_session=core, region_name=self.region)
            self._client = session.client("rds", config=Config(retries={"max_attempts": 1, "mode": "standard"}))
        return self._client

    def __getstate__(self) -> dict[str, Any]:
        """Saved without its client (a connection, not state): the next use makes a new one."""
        return {**self.__dict__, "_client": None}

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Any RDS operation by its API name; moto's ClientError propagates unchanged."""
        method = getattr(self.client, xform_name(operation))
        response: dict[str, Any] = dict(method(**params))
        response.pop("ResponseMetadata", None)
        return response

    def instance(self, instance_id: str) -> dict[str, Any] | None:
        try:
            found = self.call("DescribeDBInstances", {"DBInstanceIdentifier": instance_id})["DBInstances"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in INSTANCE_NOT_FOUND:
                return None
            raise
        return dict(found[0]) if found else None

    def cluster(self, cluster_id: str) -> dict[str, Any] | None:
        try:
            found = self.call("DescribeDBClusters", {"DBClusterIdentifier": cluster_id})["DBClusters"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in CLUSTER_NOT_FOUND:
                return None
            raise
        return dict(found[0]) if found else None

    def cluster_instances(self, cluster_id: str) -> dict[str, dict[str, Any]]:
        """The cluster's instances by id, every page."""
        paginator = self.client.get_paginator("describe_db_instances")
        pages = paginator.paginate(Filters=[{"Name": "db-cluster-id", "Values": [cluster_id]}])
        return {i["DBInstanceIdentifier"]: dict(i) for page in pages for i in page["DBInstances"]}

    def writer(self, cluster_id: str) -> str | None:
        cluster = self.cluster(cluster_id)
        members = cluster.get("DBClusterMembers", []) if cluster else []
        return next((str(m["DBInstanceIdentifier"]) for m in members if m.get("IsClusterWriter")), None)
