"""The four operations on a Multi-AZ DB cluster: the cluster is changed, never its members one by one.

"You can't modify the DB instances within a Multi-AZ DB cluster. All modifications must be done at the
DB cluster level. The only operation you can perform on a DB instance within a Multi-AZ DB cluster is
rebooting it" (RDS user guide). So each change is one ModifyDBCluster and a verify:

* storage_type_change: StorageType + Iops (+ AllocatedStorage), online; it cannot be undone (storage
  never shrinks, and the members optimize their storage for hours after a change);
* instance_type_change: DBClusterInstanceClass; AWS changes the readers, fails over, changes the old
  writer; rollback changes the class back (another failover);
* engine_upgrade: in place only (Blue/Green does not support Multi-AZ DB clusters), EngineVersion (+
  AllowMajorVersionUpgrade for a PostgreSQL major); it cannot be undone;
* instance_cycle: see `plans.multi_az_cycle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rds_maint.errors import BadInput
from rds_maint.model import (
    EngineUpgradeParams,
    InstanceCycleParams,
    InstanceTypeChangeParams,
    Operation,
    OperationParams,
    OperationType,
    Step,
    StorageTypeChangeParams,
)
from rds_maint.plans.base import Plan, StepBuilder, narrowed
from rds_maint.plans.multi_az_cycle import plan_multi_az_cycle
from rds_maint.snapshots import ClusterSnapshot
from rds_maint.steps.base import StepKind
from rds_maint.steps.cluster import RECORD_NOTE, RecordNoteParams
from rds_maint.steps.multi_az_cluster import (
    MODIFY_MULTI_AZ_CLASS,
    MODIFY_MULTI_AZ_STORAGE,
    MULTI_AZ_MODIFY_KINDS,
    REBOOT_MULTI_AZ_CLUSTER,
    REBOOT_MULTI_AZ_MEMBER,
    UPGRADE_MULTI_AZ_ENGINE,
    UPGRADE_MULTI_AZ_ENGINE_MAJOR,
    VERIFY_MULTI_AZ_CLUSTER,
    ModifyMultiAzClusterParams,
    ModifyMultiAzClusterRecord,
    MultiAzShape,
    VerifyMultiAzClusterParams,
)

__all__ = [
    "MULTI_AZ_STORAGE_TYPES",
    "MultiAzFacts",
    "plan_multi_az_cluster",
    "rollback_limits",
    "unwind_multi_az_cluster",
]

# ModifyDBCluster StorageType for Multi-AZ DB clusters (botocore model: "io1 | io2 | gp3").
MULTI_AZ_STORAGE_TYPES = ("io1", "io2", "gp3")
UnwindKind = Literal["abort", "rollback"]


@dataclass(frozen=True)
class MultiAzFacts:
    """What the preflight worked out: the IOPS and size a storage change sends (AWS needs Iops with
    StorageType), and whether an engine upgrade is a major one."""

    iops: int | None = None
    allocated_storage: int | None = None
    major_upgrade: bool = False


def _facts(facts: object) -> MultiAzFacts:
    return MultiAzFacts() if facts is None else narrowed(facts, MultiAzFacts)


def _original(cluster: ClusterSnapshot) -> MultiAzShape:
    return MultiAzShape(
        instance_class=cluster.cluster_instance_class,
        storage_type=cluster.storage_type,
        iops=cluster.iops,
        allocated_storage=cluster.allocated_storage,
        engine_version=cluster.engine_version,
    )


def _modify_plan(
    cluster: ClusterSnapshot,
    kind: StepKind[ModifyMultiAzClusterParams, ModifyMultiAzClusterRecord],
    target: MultiAzShape,
    *,
    name: str,
    description: str,
    notes: list[str],
    allow_major: bool = False,
) -> Plan:
    builder = StepBuilder()
    original = _original(cluster)
    builder.step(
        kind,
        ModifyMultiAzClusterParams(cluster_id=cluster.id, target=target, original=original, allow_major=allow_major),
        name=name,
        description=description,
    )
    builder.step(
        VERIFY_MULTI_AZ_CLUSTER,
        VerifyMultiAzClusterParams(cluster_id=cluster.id, expected=target),
        name="verify",
        description=f"Verify cluster {cluster.id}: available, nothing pending, every member as planned",
    )
    context = {
        "original_writer": cluster.writer_id,
        "multi_az_original": original.model_dump(mode="json", exclude_none=True),
    }
    return Plan(steps=builder.steps, notes=notes, context=context)


def _storage(cluster: ClusterSnapshot, params: StorageTypeChangeParams, facts: MultiAzFacts) -> Plan:
    size = facts.allocated_storage or cluster.allocated_storage
    target = MultiAzShape(
        storage_type=params.target_storage_type,
        iops=facts.iops or params.iops or cluster.iops,
        allocated_storage=size if size != cluster.allocated_storage else None,
    )
    change = ", ".join(
        [f"{cluster.storage_type} -> {target.storage_type}", f"{cluster.iops} -> {target.iops} IOPS"]
        + ([f"{cluster.allocated_storage} -> {size} GiB"] if target.allocated_storage else [])
    )
    return _modify_plan(
        cluster,
        MODIFY_MULTI_AZ_STORAGE,
        target,
        name="modify_storage",
        description=f"Change the storage of every member of {cluster.id} ({change}) with one ModifyDBCluster; "
        "online, no failover; wait until the cluster shows it with nothing pending",
        notes=[
            "the storage change runs online; afterwards the members optimize their storage for hours, and AWS "
            "refuses another storage change until then",
            "a rollback cannot undo it (storage never shrinks)",
        ],
    )


def _instance_class(cluster: ClusterSnapshot, params: InstanceTypeChangeParams) -> Plan:
    target = MultiAzShape(instance_class=params.target_instance_type)
    return _modify_plan(
        cluster,
        MODIFY_MULTI_AZ_CLASS,
        target,
        name="modify_class",
        description=f"Change the class of {cluster.id} from {cluster.cluster_instance_class} to "
        f"{params.target_instance_type} with one ModifyDBCluster: AWS changes the readers, fails the writer over "
        "to one of them (writes stop briefly), then changes the old writer",
        notes=[
            f"the writer moves off {cluster.writer_id} once during the change (AWS's failover)",
            "a rollback changes the class back: another failover",
        ],
    )


def _engine_upgrade(cluster: ClusterSnapshot, params: EngineUpgradeParams, facts: MultiAzFacts) -> Plan:
    target = MultiAzShape(engine_version=params.target_engine_version)
    kind = UPGRADE_MULTI_AZ_ENGINE_MAJOR if facts.major_upgrade else UPGRADE_MULTI_AZ_ENGINE
    how = (
        "a major upgrade: the members are upgraded one at a time and the cluster may not serve until they are "
        "(downtime)"
        if facts.major_upgrade
        else "the readers are upgraded one at a time, then one of them becomes the writer (writes stop briefly), "
        "then the old writer is upgraded"
    )
    return _modify_plan(
        cluster,
        kind,
        target,
        name="upgrade_engine",
        description=f"Upgrade {cluster.id} in place from {cluster.engine} {cluster.engine_version} to "
        f"{params.target_engine_version} with one ModifyDBCluster EngineVersion: {how}",
        notes=[
            "Blue/Green deployments do not support Multi-AZ DB clusters: the upgrade runs in place",
            "a rollback cannot downgrade the engine",
        ],
        allow_major=facts.major_upgrade,
    )


def plan_multi_az_cluster(
    op_type: OperationType, cluster: ClusterSnapshot, params: OperationParams, operation_id: str, facts: object
) -> Plan:
    typed = _facts(facts)
    if op_type is OperationType.STORAGE_TYPE_CHANGE and isinstance(params, StorageTypeChangeParams):
        return _storage(cluster, params, typed)
    if op_type is OperationType.INSTANCE_TYPE_CHANGE and isinstance(params, InstanceTypeChangeParams):
        return _instance_class(cluster, params)
    if op_type is OperationType.ENGINE_UPGRADE and isinstance(params, EngineUpgradeParams):
        return _engine_upgrade(cluster, params, typed)
    if op_type is OperationType.INSTANCE_CYCLE and isinstance(params, InstanceCycleParams):
        return plan_multi_az_cycle(cluster, params, operation_id)
    raise BadInput(f"operation type '{op_type.value}' is not available for a Multi-AZ DB cluster")


def _forward(operation: Operation) -> tuple[Step, ModifyMultiAzClusterParams] | None:
    actions = {k.action: k for k in MULTI_AZ_MODIFY_KINDS}
    for step in operation.steps:
        kind = actions.get(step.action)
        if kind is not None:
            return step, kind.parse_params(step.parameters)
    return None


def _note(operation: Operation, message: str) -> list[Step]:
    builder = StepBuilder(offset=len(operation.steps))
    builder.step(
        RECORD_NOTE,
        RecordNoteParams(type="rollback_limits", message=message),
        name="rollback_limits",
        description="Rollback: what cannot be undone (recorded as an event)",
    )
    return builder.steps


def unwind_multi_az_cluster(operation: Operation, kind: UnwindKind) -> list[Step]:
    """abort: nothing was created, nothing to remove (a change AWS accepted runs to its end).
    rollback: a class change goes back (another ModifyDBCluster); the rest says what it cannot undo."""
    if kind == "abort":
        return []
    limits = rollback_limits(operation) or "nothing to undo"
    forward = _forward(operation)
    if forward is None or forward[0].action != MODIFY_MULTI_AZ_CLASS.action:
        return _note(operation, limits)
    _, params = forward
    back = MultiAzShape(instance_class=params.original.instance_class)
    builder = StepBuilder(offset=len(operation.steps))
    builder.step(
        MODIFY_MULTI_AZ_CLASS,
        ModifyMultiAzClusterParams(cluster_id=params.cluster_id, target=back, original=params.target),
        name="rollback_class",
        description=f"Rollback: change the class of {params.cluster_id} back to {back.instance_class} (AWS fails "
        "over once more; nothing is sent if the class never changed)",
    )
    builder.step(
        VERIFY_MULTI_AZ_CLUSTER,
        VerifyMultiAzClusterParams(cluster_id=params.cluster_id, expected=back),
        name="rollback_verify",
        description=f"Rollback: verify cluster {params.cluster_id} has class {back.instance_class} again",
    )
    return builder.steps


def rollback_limits(operation: Operation) -> str | None:
    """What a rollback of `operation` cannot undo, said before the answer is accepted (None: it undoes all)."""
    cluster_id = operation.cluster_id
    if operation.type is OperationType.STORAGE_TYPE_CHANGE:
        return (
            f"A storage change of Multi-AZ DB cluster {cluster_id} cannot be undone by rds-maint: allocated storage "
            "never shrinks and AWS refuses another storage change while the members optimize their storage. "
            "Rollback changes nothing on AWS"
        )
    if operation.type is OperationType.ENGINE_UPGRADE:
        return (
            f"An engine upgrade of Multi-AZ DB cluster {cluster_id} cannot be undone: AWS does not downgrade an "
            "engine (restore a snapshot taken before it instead). Rollback changes nothing on AWS"
        )
    if operation.type is OperationType.INSTANCE_CYCLE:
        rebooted = [
            s.name
            for s in operation.steps
            if s.action in (REBOOT_MULTI_AZ_MEMBER.action, REBOOT_MULTI_AZ_CLUSTER.action) and s.result
        ]
        done = ", ".join(rebooted) if rebooted else "no reboot yet"
        return f"Reboots cannot be undone ({done}); a failover already made is not reversed. Rollback changes nothing"
    if operation.type is OperationType.INSTANCE_TYPE_CHANGE:
        return (
            f"Rollback changes the class of Multi-AZ DB cluster {cluster_id} back with another ModifyDBCluster: "
            "AWS changes the readers and fails the writer over once more (a short interruption)"
        )
    return None
