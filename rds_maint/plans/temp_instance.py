"""The shared shape of temp-instance operations (class change, instance cycle).

temp instance in the new shape -> fail over to it -> change the original writer ->
each reader in turn -> fail back to the original writer -> delete the temp instance ->
verify. Which members are concerned, and what "change" means, is the caller's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rds_maint.errors import BadInput
from rds_maint.plans.base import Plan, StepBuilder, temp_instance_id
from rds_maint.snapshots import ClusterSnapshot, MemberSnapshot, instance_settings
from rds_maint.steps.cluster import FAILOVER, FailoverParams

# Tags that describe who owns an instance, not what it is: never copied onto the temp instance.
COPY_EXCLUDED_TAG_PREFIXES = ("aws:", "application-autoscaling:", "rds-maint:")

ChangeStep = Callable[[StepBuilder, MemberSnapshot], None]


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


def build_rolling_plan(
    *,
    cluster: ClusterSnapshot,
    operation_id: str,
    to_change: list[MemberSnapshot],
    temp_class: str,
    skip_temp_instance: bool,
    change: ChangeStep,
    verify_action: str,
    verify_parameters: dict[str, object],
    notes: list[str],
    before_verify: Callable[[StepBuilder], None] | None = None,
) -> Plan:
    writer = cluster.writer
    if writer is None:
        raise BadInput(f"cluster '{cluster.id}' has no writer instance")
    builder = StepBuilder()
    builder.add(
        "check_cluster",
        "check_cluster",
        f"Check that cluster {cluster.id} is available with writer {writer.id}",
        cluster_id=cluster.id,
        expected_writer=writer.id,
        members=[m.id for m in to_change],
    )
    readers = [m for m in to_change if m.id != writer.id]
    writer_changes = any(m.id == writer.id for m in to_change)
    context: dict[str, object] = {
        "original_writer": writer.id,
        "original_classes": {m.id: m.instance.instance_class for m in cluster.members},
        "original_tiers": {m.id: m.promotion_tier for m in cluster.members},
        "temp_instance_id": None,
    }

    if not writer_changes:
        for member in readers:
            change(builder, member)
    elif not skip_temp_instance:
        temp_id = temp_instance_id(cluster.id, operation_id)
        context["temp_instance_id"] = temp_id
        zone = _other_az(cluster, writer)
        builder.add(
            "create_temp_instance",
            "create_temp_instance",
            f"Create temp instance {temp_id} ({temp_class}, promotion tier 0, {zone or 'any AZ'}) "
            f"copying the writer's parameter group, tags, network access, CA certificate and monitoring",
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
        )
        builder.add(
            "failover_to_temp",
            "failover",
            f"Fail over cluster {cluster.id} to temp instance {temp_id}",
            cluster_id=cluster.id,
            target=temp_id,
        )
        change(builder, writer)
        for member in readers:
            change(builder, member)
    else:
        if not readers:
            spare = [m for m in cluster.members if m.id != writer.id and not m.instance.is_serverless]
            if not spare:
                raise BadInput(
                    f"skip_temp_instance: cluster '{cluster.id}' has no reader to fail over to, so the "
                    "writer would be changed in place (minutes of downtime); drop skip_temp_instance"
                )
            standby = spare[0]
        else:
            standby = readers[0]
        for member in readers:
            change(builder, member)
        builder.add(
            "failover_to_reader",
            "failover",
            f"Fail over cluster {cluster.id} to reader {standby.id}",
            cluster_id=cluster.id,
            target=standby.id,
        )
        change(builder, writer)

    if writer_changes:
        builder.step(
            FAILOVER,
            FailoverParams(cluster_id=cluster.id, target=writer.id),
            name="failback",
            description=f"Fail back cluster {cluster.id} to the original writer {writer.id}",
        )
    if context["temp_instance_id"]:
        builder.add(
            "delete_temp_instance",
            "delete_temp_instance",
            f"Delete temp instance {context['temp_instance_id']}",
            cluster_id=cluster.id,
            instance_id=context["temp_instance_id"],
        )
    if before_verify is not None:
        before_verify(builder)
    builder.add(
        "verify",
        verify_action,
        f"Verify cluster {cluster.id}: writer {writer.id}, every changed instance in its new shape",
        cluster_id=cluster.id,
        expected_writer=writer.id,
        **verify_parameters,
    )
    return Plan(steps=builder.steps, notes=notes, context=context)
