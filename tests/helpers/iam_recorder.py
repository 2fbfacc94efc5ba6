"""Records every RDS request the simulator serves as the IAM authorisations AWS would make for it.

`RequestRecorder.attach` goes into the client factory the engine is wired with, after the simulator
(`World.recorders`): on each RDS client the code makes it adds botocore hooks next to the simulator's. For every
call it writes down, before the simulator answers, the IAM checks AWS makes: the action on
each resource the Service Authorization Reference lists for it (`RESOURCES`), with the
request's tags and the target's tags *at call time* (read from moto through a plain client
the simulator does not see), plus the checks RDS makes on the caller's behalf (`implied`:
tag-on-create, the final snapshot of DeleteDBCluster, the green resources Blue/Green creates,
renames and deletes, iam:PassRole of a monitoring role, KMS for Performance Insights).

Sources, cited once here and used as data below:
* "Actions, resources, and condition keys for Amazon RDS" (Service Authorization Reference,
  docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html): resource
  types per action (`*` = required) and dependent actions;
* "Authorizing access to Amazon RDS blue/green deployment operations" (RDS User Guide), for a DB
  instance source: create needs CreateDBInstanceReadReplica and AddTagsToResource; switchover
  ModifyDBInstance and PromoteReadReplica; delete DeleteDBInstance; internal names as for Aurora;
* "Authorizing access to Amazon Aurora blue/green deployment operations" (Aurora User Guide):
  create needs CreateDBCluster, CreateDBInstance, AddTagsToResource, CreateDBClusterEndpoint;
  switchover ModifyDBCluster, PromoteReadReplicaDBCluster; delete DeleteDBCluster,
  DeleteDBInstance, DeleteDBClusterEndpoint; the staging resources use an internal naming
  convention, so policies "can't contain partial resource name patterns": such checks are
  recorded with `any_name` and evaluated under a name no pattern can anticipate;
* the 2025 AWS notice on DeleteDBCluster with FinalDBSnapshotIdentifier: rds:CreateDBClusterSnapshot
  (and rds:AddTagsToResource when tags are copied) on the `cluster-snapshot:` ARN;
* "Specifying conditions: Using custom tags" (RDS User Guide): `rds:<type>-tag/<key>` identifiers;
* "Setting up and enabling Enhanced Monitoring": iam:PassRole of the monitoring role, passed to
  monitoring.rds.amazonaws.com.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from tests.helpers.iam_evaluator import ContextValue, Request

ACCOUNT = "123456789012"
INTERNAL_NAME = "rds-internal-name-0"  # what an `any_name` check is evaluated under
_CONTEXT_KEY = "rds_maint_iam_recorder"

# Resource types per action (Service Authorization Reference), as (type, request parameter that
# names it, required). A required type the request does not name is authorised on `<type>:*`; an
# optional one only when named; an action whose types are all optional and unnamed, on "*".
# "arn" = the parameter is itself an ARN (AddTagsToResource, ListTagsForResource).
Spec = tuple[str, str | None, bool]
RESOURCES: dict[str, tuple[Spec, ...]] = {
    "AddTagsToResource": (("arn", "ResourceName", True),),
    "ListTagsForResource": (("arn", "ResourceName", True),),
    "RemoveTagsFromResource": (("arn", "ResourceName", True),),
    "CreateBlueGreenDeployment": (
        ("deployment", None, True),
        ("cluster", "Source", False),
        ("cluster-pg", "TargetDBClusterParameterGroupName", False),
        ("pg", "TargetDBParameterGroupName", False),
    ),
    "DescribeBlueGreenDeployments": (("deployment", "BlueGreenDeploymentIdentifier", False),),
    "SwitchoverBlueGreenDeployment": (("deployment", "BlueGreenDeploymentIdentifier", True),),
    "DeleteBlueGreenDeployment": (("deployment", "BlueGreenDeploymentIdentifier", True),),
    "CreateDBInstance": (
        ("db", "DBInstanceIdentifier", True),
        ("cluster", "DBClusterIdentifier", False),
        ("og", "OptionGroupName", False),
        ("pg", "DBParameterGroupName", False),
        ("subgrp", "DBSubnetGroupName", False),
    ),
    "ModifyDBInstance": (
        ("db", "DBInstanceIdentifier", True),
        ("og", "OptionGroupName", False),
        ("pg", "DBParameterGroupName", False),
        ("subgrp", "DBSubnetGroupName", False),
    ),
    "RebootDBInstance": (("db", "DBInstanceIdentifier", True),),
    "DeleteDBInstance": (("db", "DBInstanceIdentifier", True),),
    "DescribeDBInstances": (("db", "DBInstanceIdentifier", True),),
    "DescribeDBClusters": (("cluster", "DBClusterIdentifier", True),),
    "FailoverDBCluster": (("cluster", "DBClusterIdentifier", True),),
    "RebootDBCluster": (("cluster", "DBClusterIdentifier", True),),
    "ModifyDBCluster": (
        ("cluster", "DBClusterIdentifier", True),
        ("cluster-pg", "DBClusterParameterGroupName", False),
        ("og", "OptionGroupName", False),
        ("pg", "DBInstanceParameterGroupName", False),
    ),
    "DeleteDBCluster": (
        ("cluster", "DBClusterIdentifier", True),
        ("cluster-snapshot", "FinalDBSnapshotIdentifier", False),
    ),
    "CreateDBClusterParameterGroup": (("cluster-pg", "DBClusterParameterGroupName", True),),
    "ModifyDBClusterParameterGroup": (("cluster-pg", "DBClusterParameterGroupName", True),),
    "DeleteDBClusterParameterGroup": (("cluster-pg", "DBClusterParameterGroupName", True),),
    "DescribeDBClusterParameterGroups": (("cluster-pg", "DBClusterParameterGroupName", True),),
    "DescribeDBClusterParameters": (("cluster-pg", "DBClusterParameterGroupName", True),),
    "CreateDBParameterGroup": (("pg", "DBParameterGroupName", True),),
    "ModifyDBParameterGroup": (("pg", "DBParameterGroupName", True),),
    "DeleteDBParameterGroup": (("pg", "DBParameterGroupName", True),),
    "DescribeDBParameterGroups": (("pg", "DBParameterGroupName", True),),
    "DescribeDBParameters": (("pg", "DBParameterGroupName", True),),
    "DescribePendingMaintenanceActions": (("cluster", None, False), ("db", None, False)),
    # A proxy's ARN names its resource id (db-proxy:prx-...), a target group's its id: the request
    # names neither, so these are authorised whatever the name.
    "DescribeDBProxies": (("proxy", "DBProxyName", True),),
    "DescribeDBProxyTargets": (("proxy", "DBProxyName", True), ("target-group", "TargetGroupName", True)),
    "DescribeDBProxyTargetGroups": (("proxy", "DBProxyName", True),),
    "RegisterDBProxyTargets": (("proxy", "DBProxyName", True), ("target-group", "TargetGroupName", True)),
    "DeregisterDBProxyTargets": (("proxy", "DBProxyName", True), ("target-group", "TargetGroupName", True)),
    # No resource-level permissions: "*".
    "DescribeEvents": (),
    "DescribeDBEngineVersions": (),
    "DescribeOrderableDBInstanceOptions": (),
}
OPAQUE_NAMES = {"proxy", "target-group", "deployment"}  # the ARN names an id AWS makes, not a name we give
ARN_SEGMENT = {"proxy": "db-proxy"}  # resource type -> the ARN's resource segment, where they differ
TYPE_OF_SEGMENT = {"db-proxy": "proxy"}
TAG_IDENTIFIER = {  # "Specifying conditions: Using custom tags": rds:<identifier>/<key>
    "db": "db-tag",
    "cluster": "cluster-tag",
    "pg": "pg-tag",
    "cluster-pg": "cluster-pg-tag",
    "snapshot": "snapshot-tag",
    "cluster-snapshot": "cluster-snapshot-tag",
    "og": "og-tag",
    "subgrp": "subgrp-tag",
    "secgrp": "secgrp-tag",
}
TAGGED_IN_MOTO = {"db", "cluster", "pg", "cluster-pg", "cluster-snapshot"}


@dataclass(frozen=True)
class Check:
    """One IAM authorisation AWS makes while serving a recorded call."""

    operation: str  # the API call the code made
    action: str  # the IAM action checked
    resource_type: str
    arn: str
    request_tags: dict[str, str] = field(default_factory=dict)
    resource_tags: dict[str, str] = field(default_factory=dict)
    extra: dict[str, ContextValue] = field(default_factory=dict)
    implied: bool = False  # checked by RDS on the caller's behalf (a dependent action)
    any_name: bool = False  # authorised under a name AWS makes: name patterns cannot be relied on

    @property
    def evaluated_arn(self) -> str:
        if not self.any_name or self.arn == "*":
            return self.arn
        head, _, _name = self.arn.rpartition(":")
        return f"{head}:{INTERNAL_NAME}"

    def request(self) -> Request:
        context: dict[str, ContextValue] = dict(self.extra)
        if self.request_tags:
            context["aws:TagKeys"] = sorted(self.request_tags)
        for key, value in self.request_tags.items():
            context[f"aws:RequestTag/{key}"] = value
            context[f"rds:req-tag/{key}"] = value
        identifier = TAG_IDENTIFIER.get(self.resource_type)
        for key, value in self.resource_tags.items():
            context[f"aws:ResourceTag/{key}"] = value
            if identifier:
                context[f"rds:{identifier}/{key}"] = value
        return Request(self.action, self.evaluated_arn, context)

    def describe(self) -> str:
        via = f" (implied by {self.operation})" if self.implied else ""
        return f"{self.action} on {self.arn}{via}"


def removed_keys(operation: str, params: dict[str, Any]) -> dict[str, ContextValue]:
    """RemoveTagsFromResource names keys, not tags: its `aws:TagKeys` are the `TagKeys` it removes
    (Service Authorization Reference: the action's condition key is aws:TagKeys)."""
    if operation != "RemoveTagsFromResource":
        return {}
    return {"aws:TagKeys": sorted(str(k) for k in params.get("TagKeys") or [])}


def _is_instance(arn: str) -> bool:
    """A Blue/Green source or target that is an RDS DB instance (`:db:`), not a cluster."""
    return ":db:" in arn


def _tags(items: Any) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in items or []}


class RequestRecorder:
    """Attach to each RDS client after the simulator: `world.recorders.append(recorder.attach)`."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.checks: list[Check] = []
        self.operations: list[str] = []
        self._moto: Any = None
        self._deployments: dict[str, tuple[str, str, dict[str, str]]] = {}  # id -> (source, target, tags)
        self._hook = f"iam-recorder-{id(self)}"

    # -- hooks ---------------------------------------------------------------------------------

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-parameter-build.rds", self._before, unique_id=f"{self._hook}-before")
        events.register("after-call.rds", self._after, unique_id=f"{self._hook}-after")

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        operation = str(model.name)
        params = copy.deepcopy(params)
        context[_CONTEXT_KEY] = (operation, params)
        self.operations.append(operation)
        self.checks.extend(self.direct(operation, params))
        self.checks.extend(self.implied_before(operation, params))

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        operation, _params = context.get(_CONTEXT_KEY, (str(model.name), {}))
        if "Error" in parsed:
            return
        for deployment in parsed.get("BlueGreenDeployments") or [parsed.get("BlueGreenDeployment") or {}]:
            if deployment.get("BlueGreenDeploymentIdentifier"):
                self._deployments[str(deployment["BlueGreenDeploymentIdentifier"])] = (
                    str(deployment.get("Source", "")),
                    str(deployment.get("Target", "")),
                    _tags(deployment.get("TagList")),
                )
        if operation == "CreateBlueGreenDeployment":
            self.checks.extend(self._green_creation(operation, parsed.get("BlueGreenDeployment") or {}))

    # -- ARNs and tags -------------------------------------------------------------------------

    def arn(self, resource_type: str, name: str) -> str:
        segment = ARN_SEGMENT.get(resource_type, resource_type)
        return f"arn:aws:rds:{self.region}:{ACCOUNT}:{segment}:{name}"

    def _client(self) -> Any:
        if self._moto is None:
            self._moto = boto3.client("rds", region_name=self.region)  # moto's, not the simulator's
        return self._moto

    def tags_of(self, resource_type: str, arn: str) -> dict[str, str]:
        """The resource's tags now, as moto holds them (deployments: as last described)."""
        if resource_type == "deployment":
            found = self._deployments.get(arn.rpartition(":")[2])
            return dict(found[2]) if found else {}
        if resource_type not in TAGGED_IN_MOTO or arn.endswith(":*"):
            return {}
        try:
            return _tags(self._client().list_tags_for_resource(ResourceName=arn).get("TagList"))
        except ClientError:
            return {}  # not there (yet): a create

    def members(self, cluster_arn: str) -> list[dict[str, Any]]:
        cluster_id = cluster_arn.rpartition(":")[2]
        try:
            found = self._client().describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [cluster_id]}])
        except ClientError:
            return []
        return list(found.get("DBInstances") or [])

    # -- the checks ----------------------------------------------------------------------------

    def direct(self, operation: str, params: dict[str, Any]) -> Iterator[Check]:
        """The action itself on each resource type it is authorised on."""
        if operation not in RESOURCES:
            raise KeyError(
                f"{operation}: no resource mapping in tests/helpers/iam_recorder.py RESOURCES; "
                "add its resource types from the Service Authorization Reference"
            )
        specs = RESOURCES[operation]
        request_tags = _tags(params.get("Tags"))
        named = [(t, params.get(p) if p else None, required) for t, p, required in specs]
        if not specs or all(not required and not value for _, value, required in named):
            yield Check(operation, f"rds:{operation}", "*", "*", request_tags)
            return
        for resource_type, value, required in named:
            if not value and not required:
                continue
            if resource_type == "arn" or (isinstance(value, str) and value.startswith("arn:")):
                arn = str(value)
                resource_type = TYPE_OF_SEGMENT.get(arn.split(":")[5], arn.split(":")[5])
            else:
                arn = self.arn(resource_type, str(value) if value else "*")
            opaque = resource_type in OPAQUE_NAMES and not arn.endswith(":*")
            if resource_type in ("proxy", "target-group"):
                arn = self.arn(resource_type, "*") if not value else arn
            yield Check(
                operation,
                f"rds:{operation}",
                resource_type,
                arn,
                request_tags,
                self.tags_of(resource_type, arn),
                extra=removed_keys(operation, params),
                any_name=opaque or (operation == "CreateBlueGreenDeployment" and resource_type == "deployment"),
            )

    def implied_before(self, operation: str, params: dict[str, Any]) -> Iterator[Check]:
        """Dependent actions whose resources exist before the call (or are named by it)."""
        request_tags = _tags(params.get("Tags"))
        created = {
            "CreateDBInstance": ("db", "DBInstanceIdentifier"),
            "CreateDBClusterParameterGroup": ("cluster-pg", "DBClusterParameterGroupName"),
            "CreateDBParameterGroup": ("pg", "DBParameterGroupName"),
        }
        if operation in created and request_tags:  # tag-on-create
            resource_type, key = created[operation]
            yield Check(
                operation,
                "rds:AddTagsToResource",
                resource_type,
                self.arn(resource_type, str(params[key])),
                request_tags,
                implied=True,
            )
        if operation == "CreateBlueGreenDeployment" and request_tags:
            yield Check(
                operation,
                "rds:AddTagsToResource",
                "deployment",
                self.arn("deployment", "*"),
                request_tags,
                implied=True,
                any_name=True,
            )
        if operation in ("CreateDBInstance", "ModifyDBInstance"):
            yield from self._instance_dependencies(operation, params)
        if operation == "DeleteDBCluster" and params.get("FinalDBSnapshotIdentifier"):
            cluster = self.arn("cluster", str(params["DBClusterIdentifier"]))
            snapshot = self.arn("cluster-snapshot", str(params["FinalDBSnapshotIdentifier"]))
            cluster_tags = self.tags_of("cluster", cluster)
            yield Check(operation, "rds:CreateDBClusterSnapshot", "cluster", cluster, {}, cluster_tags, implied=True)
            yield Check(operation, "rds:CreateDBClusterSnapshot", "cluster-snapshot", snapshot, implied=True)
            # Harsher than CopyTagsToSnapshot: assume the cluster's tags are always copied.
            yield Check(operation, "rds:AddTagsToResource", "cluster-snapshot", snapshot, cluster_tags, implied=True)
        if operation == "DeleteDBInstance" and params.get("FinalDBSnapshotIdentifier"):
            # Not documented for instances; the harsher reading of the DeleteDBCluster notice above: the final
            # snapshot needs rds:CreateDBSnapshot on the instance and the snapshot, and the tags copied to it.
            instance = self.arn("db", str(params["DBInstanceIdentifier"]))
            snapshot = self.arn("snapshot", str(params["FinalDBSnapshotIdentifier"]))
            instance_tags = self.tags_of("db", instance)
            yield Check(operation, "rds:CreateDBSnapshot", "db", instance, {}, instance_tags, implied=True)
            yield Check(operation, "rds:CreateDBSnapshot", "snapshot", snapshot, implied=True)
            yield Check(operation, "rds:AddTagsToResource", "snapshot", snapshot, instance_tags, implied=True)
        if operation == "SwitchoverBlueGreenDeployment":
            source, target = self._pair(str(params["BlueGreenDeploymentIdentifier"]))
            if _is_instance(source):  # RDS Blue/Green: both instances are renamed, green promoted
                for instance in (source, target):
                    yield self._on_behalf(operation, "rds:ModifyDBInstance", "db", instance)
                yield self._on_behalf(operation, "rds:PromoteReadReplica", "db", target)
                return
            for cluster in (source, target):
                yield self._on_behalf(operation, "rds:ModifyDBCluster", "cluster", cluster)
                for member in self.members(cluster):
                    yield self._on_behalf(operation, "rds:ModifyDBInstance", "db", str(member["DBInstanceArn"]))
            yield self._on_behalf(operation, "rds:PromoteReadReplicaDBCluster", "cluster", target)
        if operation == "DeleteBlueGreenDeployment":
            _source, target = self._pair(str(params["BlueGreenDeploymentIdentifier"]))
            if _is_instance(target):
                if params.get("DeleteTarget"):
                    yield self._on_behalf(operation, "rds:DeleteDBInstance", "db", target)
                else:  # a green kept before a switchover is promoted to a standalone instance
                    yield self._on_behalf(operation, "rds:PromoteReadReplica", "db", target)
                return
            if params.get("DeleteTarget"):
                for member in self.members(target):
                    yield self._on_behalf(operation, "rds:DeleteDBInstance", "db", str(member["DBInstanceArn"]))
                yield self._on_behalf(operation, "rds:DeleteDBCluster", "cluster", target)
            else:  # a green kept before a switchover is promoted to a standalone cluster
                yield self._on_behalf(operation, "rds:PromoteReadReplicaDBCluster", "cluster", target)

    def _instance_dependencies(self, operation: str, params: dict[str, Any]) -> Iterator[Check]:
        if params.get("MonitoringRoleArn"):
            yield Check(
                operation,
                "iam:PassRole",
                "role",
                str(params["MonitoringRoleArn"]),
                extra={"iam:PassedToService": "monitoring.rds.amazonaws.com"},
                implied=True,
            )
        key = params.get("PerformanceInsightsKMSKeyId")
        if key:
            key_arn = str(key) if str(key).startswith("arn:") else f"arn:aws:kms:{self.region}:{ACCOUNT}:key/{key}"
            via: dict[str, ContextValue] = {"kms:ViaService": f"rds.{self.region}.amazonaws.com"}
            yield Check(
                operation,
                "kms:CreateGrant",
                "key",
                key_arn,
                extra={**via, "kms:GrantIsForAWSResource": True},
                implied=True,
            )
            yield Check(operation, "kms:DescribeKey", "key", key_arn, extra=via, implied=True)

    def _pair(self, deployment_id: str) -> tuple[str, str]:
        found = self._deployments.get(deployment_id)
        if found is None:
            raise AssertionError(f"deployment {deployment_id} was never described to the code before it was used")
        return found[0], found[1]

    def _on_behalf(self, operation: str, action: str, resource_type: str, arn: str) -> Check:
        return Check(
            operation, action, resource_type, arn, {}, self.tags_of(resource_type, arn), implied=True, any_name=True
        )

    def _green_creation(self, operation: str, deployment: dict[str, Any]) -> Iterator[Check]:
        """What Blue/Green creates with the caller's permissions: the green cluster and instances,
        tagged with copies of the source's tags."""
        target = str(deployment.get("Target", ""))
        if not target:
            return
        if _is_instance(target):  # RDS Blue/Green: green is a read replica of the source instance
            tags = self.tags_of("db", target)
            for resource_type in ("db", "og", "subgrp"):  # CreateDBInstanceReadReplica's resource types
                arn = target if resource_type == "db" else self.arn(resource_type, "*")
                yield Check(
                    operation, "rds:CreateDBInstanceReadReplica", resource_type, arn, tags, implied=True, any_name=True
                )
            yield Check(operation, "rds:AddTagsToResource", "db", target, tags, implied=True, any_name=True)
            return
        green_tags = self.tags_of("cluster", target)
        for resource_type in ("cluster", "cluster-pg", "og", "subgrp"):  # CreateDBCluster's required types
            arn = target if resource_type == "cluster" else self.arn(resource_type, "*")
            yield Check(operation, "rds:CreateDBCluster", resource_type, arn, green_tags, implied=True, any_name=True)
        yield Check(operation, "rds:AddTagsToResource", "cluster", target, green_tags, implied=True, any_name=True)
        for member in self.members(target):
            arn = str(member["DBInstanceArn"])
            tags = _tags(member.get("TagList"))
            yield Check(operation, "rds:CreateDBInstance", "db", arn, tags, implied=True, any_name=True)
            yield Check(
                operation, "rds:CreateDBInstance", "cluster", target, tags, green_tags, implied=True, any_name=True
            )
            yield Check(operation, "rds:AddTagsToResource", "db", arn, tags, implied=True, any_name=True)
