"""The shared shape of temp-instance operations (class change, instance cycle).

temp instance in the new shape -> fail over to it -> change the original writer ->
each reader in turn -> fail back to the original writer -> delete the temp instance ->
verify. Which members are concerned, and what "change" means, is the caller's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rds_maint.errors import BadInput
from rds_maint.names import temp_instance_id
from rds_maint.plans.base import Plan, StepBuilder
from rds_maint.snapshots import ClusterSnapshot, MemberSnapshot, instance_settings
from rds_maint.steps.cluster import (
    CHECK_CLUSTER,
    CREATE_TEMP_INSTANCE,
    DELETE_TEMP_INSTANCE,
    FAILOVER,
    CheckClusterParams,
    CreateTempInstanceParams,
    DeleteTempInstanceParams,
    FailoverParams,
)

__all__ = [
    "COPY_EXCLUDED_TAG_PREFIXES",
    "ChangeStep",
    "Selection",
    "VerifyStep",
    "build_rolling_plan",
    "select_members",
]

# Tags that describe who owns an instance, not what it is: never copied onto the temp instance.
COPY_EXCLUDED_TAG_PREFIXES = ("aws:", "application-autoscaling:", "rds-maint:")

# Adds the step(s) that change one member (a class change, a reboot).
ChangeStep = Callable[[StepBuilder, MemberSnapshot], None]
# Adds the closing verification, given the original writer.
VerifyStep = Callable[[StepBuilder, MemberSnapshot], None]


@dataclass(frozen=True)
class Selection:
    concerned: list[MemberSnapshot]
    notes: list[str]


def select_members(cluster: ClusterSnapshot, exclude: Sequence[str], *, what: str = "instance") -> Selection:
    """Members an operation may touch; says why each other member is left alone."""
    member_ids = [m.id for m in cluster.members]
    for name in exclude:
        if name not in member_ids:
            raise BadInput(
                f"exclude_instances: '{name}' is not a member of cluster '{cluster.id}' "
                f"(members: {', '.join(member_ids) or 'none'})"
            )
    notes: list[str] = []
    concerned: list[MemberSnapshot] = []
    for member in cluster.members:
        if member.id in exclude:
            notes.append(f"{member.id}: skipped (listed in exclude_instances)")
        elif member.instance.is_autoscaled:
            notes.append(f"{member.id}: skipped (owned by Application Auto Scaling)")
        elif member.instance.is_serverless:
            notes.append(f"{member.id}: skipped (Serverless v2 instance, db.serverless)")
        elif member.instance.operation_tag:
            notes.append(f"{member.id}: skipped (temp instance of operation {member.instance.operation_tag})")
        else:
            concerned.append(member)
    if not concerned:
        raise BadInput(
            f"no {what} of cluster '{cluster.id}' is left to change: every member is excluded or skipped "
            f"({'; '.join(notes)})"
        )
    return Selection(concerned=concerned, notes=notes)


def _other_az(cluster: ClusterSnapshot, writer: MemberSnapshot) -> str | None:
    zones = sorted({m.instance.availability_zone for m in cluster.members if m.instance.availability_zone})
    zones += [z for z in cluster.availability_zones if z not in zones]
    others = [z for z in zones if z != writer.instance.availability_zone]
    return others[0] if others else writer.instance.availability_zone


def _check_step(
    builder: StepBuilder, cluster: ClusterSnapshot, writer: MemberSnapshot, to_change: list[MemberSnapshot]
) -> None:
    builder.step(
        CHECK_CLUSTER,
        CheckClusterParams(cluster_id=cluster.id, expected_writer=writer.id, members=[m.id for m in to_change]),
        name="check_cluster",
        description=f"Check that cluster {cluster.id} is available with writer {writer.id}",
    )


def _temp_writer_steps(
    builder: StepBuilder, cluster: ClusterSnapshot, writer: MemberSnapshot, temp_id: str, temp_class: str
) -> None:
    """Create the temp instance in the writer's image and move the writer onto it."""
    zone = _other_az(cluster, writer)
    builder.step(
        CREATE_TEMP_INSTANCE,
        CreateTempInstanceParams(
            cluster_id=cluster.id,
            instance_id=temp_id,
            instance_class=temp_class,
            engine=cluster.engine,
            parameter_group=writer.instance.parameter_group,
            availability_zone=zone,
            promotion_tier=0,
            tags={k: v for k, v in writer.instance.tags.items() if not k.startswith(COPY_EXCLUDED_TAG_PREFIXES)},
            # Clients that reach the writer today must reach the temp writer: AWS does not copy these.
            settings=instance_settings(writer.instance),
        ),
        name="create_temp_instance",
        description=f"Create temp instance {temp_id} ({temp_class}, promotion tier 0, {zone or 'any AZ'}) "
        f"copying the writer's parameter group, tags, network access, CA certificate and monitoring",
    )
    builder.step(
        FAILOVER,
        FailoverParams(cluster_id=cluster.id, target=temp_id),
        name="failover_to_temp",
        description=f"Fail over cluster {cluster.id} to temp instance {temp_id}",
    )


def _standby_reader(cluster: ClusterSnapshot, writer: MemberSnapshot, readers: list[MemberSnapshot]) -> MemberSnapshot:
    """Without a temp instance: the reader that holds the writer while the original writer changes."""
    if readers:
        return readers[0]
    spare = [m for m in cluster.members if m.id != writer.id and not m.instance.is_serverless]
    if not spare:
        raise BadInput(
            f"skip_temp_instance: cluster '{cluster.id}' has no reader to fail over to, so the "
            "writer would be changed in place (minutes of downtime); drop skip_temp_instance"
        )
    return spare[0]


def _change_each(builder: StepBuilder, change: ChangeStep, members: list[MemberSnapshot]) -> None:
    for member in members:
        change(builder, member)


def _writer_through_reader(
    builder: StepBuilder,
    cluster: ClusterSnapshot,
    writer: MemberSnapshot,
    readers: list[MemberSnapshot],
    change: ChangeStep,
) -> None:
    """skip_temp_instance: the readers first, then one of them holds the writer while the original writer changes."""
    standby = _standby_reader(cluster, writer, readers)
    _change_each(builder, change, readers)
    builder.step(
        FAILOVER,
        FailoverParams(cluster_id=cluster.id, target=standby.id),
        name="failover_to_reader",
        description=f"Fail over cluster {cluster.id} to reader {standby.id}",
    )
    change(builder, writer)


def _closing_steps(builder: StepBuilder, cluster: ClusterSnapshot, writer: MemberSnapshot, temp_id: str | None) -> None:
    """The writer back on the original writer, then the temp instance (if any) deleted."""
    builder.step(
        FAILOVER,
        FailoverParams(cluster_id=cluster.id, target=writer.id),
        name="failback",
        description=f"Fail back cluster {cluster.id} to the original writer {writer.id}",
    )
    if temp_id:
        builder.step(
            DELETE_TEMP_INSTANCE,
            DeleteTempInstanceParams(cluster_id=cluster.id, instance_id=temp_id),
            name="delete_temp_instance",
            description=f"Delete temp instance {temp_id}",
        )


def _rollback_context(cluster: ClusterSnapshot, writer: MemberSnapshot, temp_id: str | None) -> dict[str, object]:
    """What an unwind needs to put the cluster back: the writer, every class and tier, the temp instance."""
    return {
        "original_writer": writer.id,
        "original_classes": {m.id: m.instance.instance_class for m in cluster.members},
        "original_tiers": {m.id: m.promotion_tier for m in cluster.members},
        "temp_instance_id": temp_id,
    }


def build_rolling_plan(
    *,
    cluster: ClusterSnapshot,
    operation_id: str,
    to_change: list[MemberSnapshot],
    temp_class: str,
    skip_temp_instance: bool,
    change: ChangeStep,
    verify: VerifyStep,
    notes: list[str],
    before_verify: Callable[[StepBuilder], None] | None = None,
) -> Plan:
    """Readers only: each in turn. The writer too: through a temp instance (or, skipped, a reader) and back."""
    writer = cluster.writer
    if writer is None:
        raise BadInput(f"cluster '{cluster.id}' has no writer instance")
    builder = StepBuilder()
    _check_step(builder, cluster, writer, to_change)
    readers = [m for m in to_change if m.id != writer.id]
    writer_changes = any(m.id == writer.id for m in to_change)
    temp_id = temp_instance_id(cluster.id, operation_id) if writer_changes and not skip_temp_instance else None
    if temp_id:
        _temp_writer_steps(builder, cluster, writer, temp_id, temp_class)
        _change_each(builder, change, [writer, *readers])
    elif writer_changes:
        _writer_through_reader(builder, cluster, writer, readers, change)
    else:
        _change_each(builder, change, readers)
    if writer_changes:
        _closing_steps(builder, cluster, writer, temp_id)
    if before_verify is not None:
        before_verify(builder)
    verify(builder, writer)
    return Plan(steps=builder.steps, notes=notes, context=_rollback_context(cluster, writer, temp_id))
