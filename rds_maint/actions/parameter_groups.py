"""Parameter groups for the green environment, and their removal on rollback.

A major upgrade needs groups of the new family: a custom group is copied into a new group of the
target family carrying every parameter a person set (`Source` = `user`) that the new family
still has; a default group maps to the new family's default; a group named in the request is
used as it is. The copy's name is derived from the cluster and the target version and it is
tagged `rds-maint:operation-id`, so a retried step (or a second operation after an abort) finds
it instead of making another. Rollback deletes only groups tagged with this operation's id, and
only when nothing uses them.

Aurora MySQL: the copied cluster group gets `event_scheduler=OFF` (AWS requires the Event Scheduler
off on green during replication), said in an event.

AWS asks to wait at least 5 minutes after a group is created or modified before a cluster or
instance uses it. When this step creates or changes a group, the time is written on the group
itself, in the tag `rds-maint:changed-at`: with the creation (tags come with CreateDB*ParameterGroup)
and *before* each round of modifications (so a crash after the modification leaves a time at most
moments early, never a missing one). The step records the latest such time of its groups, read from
the tags when it adopts a group after a crash, and `wait_parameter_groups_settle` waits until 5
minutes after it: from the group's own record, not from when a process happened to start.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, ImmediateAction, Wait
from rds_maint.errors import NeedsPerson, PersonAwsError
from rds_maint.ports import ParameterGroupKind, RdsPort
from rds_maint.snapshots import TAG_OPERATION_ID
from rds_maint.steps.blue_green import (
    DELETE_PARAMETER_GROUPS,
    PREPARE_PARAMETER_GROUPS,
    WAIT_PARAMETER_GROUPS_SETTLE,
    ClusterStepParams,
    CreatedGroup,
    DeleteParameterGroupsParams,
    DeleteParameterGroupsRecord,
    GroupSpec,
    PrepareParameterGroupsParams,
    PrepareParameterGroupsRecord,
    SettleRecord,
)

__all__ = [
    "ALREADY_EXISTS",
    "EVENT_SCHEDULER",
    "IN_USE",
    "MAX_PER_MODIFY",
    "SETTLE",
    "TAG_CHANGED_AT",
    "DeleteParameterGroups",
    "PrepareContext",
    "PrepareParameterGroups",
    "WaitParameterGroupsSettle",
]

MAX_PER_MODIFY = 20  # AWS accepts at most 20 parameters per Modify*ParameterGroup call
ALREADY_EXISTS = frozenset({"DBParameterGroupAlreadyExists", "DBParameterGroupAlreadyExistsFault"})
IN_USE = frozenset({"InvalidDBParameterGroupState", "InvalidDBParameterGroupStateFault"})
TAG_CHANGED_AT = "rds-maint:changed-at"
# "After you create a DB cluster parameter group, you should wait at least 5 minutes before creating your first
# DB cluster that uses that DB cluster parameter group" (CreateDBClusterParameterGroup and ModifyDBCluster-
# ParameterGroup API references; the same for DB parameter groups and instances).
SETTLE = timedelta(minutes=5)
EVENT_SCHEDULER = "event_scheduler"


def _arn(group: dict[str, Any], kind: ParameterGroupKind) -> str:
    return str(group.get("DBClusterParameterGroupArn" if kind == "cluster" else "DBParameterGroupArn", ""))


def _label(kind: ParameterGroupKind) -> str:
    return "cluster parameter group" if kind == "cluster" else "DB parameter group"


PrepareContext = ActionContext[PrepareParameterGroupsParams, PrepareParameterGroupsRecord]


def _changes(wanted: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The modifications that give the copy every value a person set in the source (and the copy has)."""
    changes = []
    for name, parameter in sorted(wanted.items()):
        have = current.get(name)
        if have is None:
            continue
        if have.get("Source") == "user" and have.get("ParameterValue") == parameter.get("ParameterValue"):
            continue
        static = str(have.get("ApplyType", parameter.get("ApplyType", "static"))) == "static"
        changes.append(
            {
                "ParameterName": name,
                "ParameterValue": str(parameter.get("ParameterValue", "")),
                "ApplyMethod": "pending-reboot" if static else "immediate",
            }
        )
    return changes


def _modify(
    ctx: PrepareContext,
    spec: GroupSpec,
    arn: str,
    owner: str,
    changes: list[dict[str, Any]],
    result: PrepareParameterGroupsRecord,
) -> None:
    """Make the changes, at most MAX_PER_MODIFY a call, after writing their time on the group."""
    target = spec.target
    if changes and result.changed_at.get(target) != ctx.now.isoformat():  # not just created with it
        # the time first, on the group itself: a crash after the modification then leaves a record
        # the owner tag goes along unchanged: the IAM policy lets rds-maint tag only with it in the request
        ctx.rds.add_tags(arn, {TAG_OPERATION_ID: owner, TAG_CHANGED_AT: ctx.now.isoformat()})
        result.changed_at[target] = ctx.now.isoformat()
    for start in range(0, len(changes), MAX_PER_MODIFY):
        ctx.rds.modify_parameter_group(spec.kind, target, changes[start : start + MAX_PER_MODIFY])


class PrepareParameterGroups(ImmediateAction):
    kind = PREPARE_PARAMETER_GROUPS

    def run(self, ctx: PrepareContext) -> ActionOutcome:
        messages: list[str] = []
        result = PrepareParameterGroupsRecord(created=[], copied={}, skipped={}, changed_at={})
        for spec in ctx.params.groups:
            if spec.mode == "copy":
                messages.append(self._copy(ctx, spec, result))
            else:
                messages.append(self._check(ctx.rds, spec))
        return Done("; ".join(messages), result=result)

    def _check(self, rds: RdsPort, spec: GroupSpec) -> str:
        kind, target = spec.kind, spec.target
        group = rds.parameter_group(kind, target)
        if group is None:
            raise NeedsPerson(f"the {_label(kind)} {target} planned for the green environment no longer exists")
        if spec.family and group.get("DBParameterGroupFamily") != spec.family:
            raise NeedsPerson(
                f"the {_label(kind)} {target} is of family {group.get('DBParameterGroupFamily')}, not {spec.family}"
            )
        return f"{kind}: {target} ({spec.mode})"

    def _create_or_adopt(
        self, ctx: PrepareContext, spec: GroupSpec, result: PrepareParameterGroupsRecord
    ) -> tuple[dict[str, Any], str]:
        """The copy, made now or found (made earlier by rds-maint), and the owner its tag names."""
        rds, kind, target, family = ctx.rds, spec.kind, spec.target, spec.family
        group = rds.parameter_group(kind, target)
        owner = ctx.operation.id  # the rds-maint:operation-id tag the group carries
        if group is not None:
            tags = self._adopt(ctx, kind, group, target, family)
            changed = _changed_at(tags)
            if changed is not None:
                result.changed_at[target] = changed.isoformat()
            return group, tags.get(TAG_OPERATION_ID, owner)
        try:
            rds.create_parameter_group(
                kind,
                target,
                family,
                f"Copy of {spec.source} for {family} by rds-maint operation {ctx.operation.id}",
                {TAG_OPERATION_ID: ctx.operation.id, TAG_CHANGED_AT: ctx.now.isoformat()},
            )
            result.changed_at[target] = ctx.now.isoformat()
            result.created.append(CreatedGroup(kind=kind, name=target))
            ctx.note("parameter_group_created", f"Created {_label(kind)} {target} ({family})", name=target)
        except PersonAwsError as exc:
            if exc.code not in ALREADY_EXISTS:
                raise
        group = rds.parameter_group(kind, target)
        if group is None:
            raise NeedsPerson(f"the {_label(kind)} {target} was created but is not visible yet; resume with continue")
        if target not in result.changed_at:  # made by an earlier try of this step: its own record
            tags = rds.list_tags(_arn(group, kind))
            owner = tags.get(TAG_OPERATION_ID, owner)
            result.changed_at[target] = (_changed_at(tags) or ctx.now).isoformat()
        return group, owner

    def _copy(self, ctx: PrepareContext, spec: GroupSpec, result: PrepareParameterGroupsRecord) -> str:
        rds, kind = ctx.rds, spec.kind
        source, target, family = str(spec.source), spec.target, spec.family
        group, owner = self._create_or_adopt(ctx, spec, result)
        wanted = {str(p["ParameterName"]): p for p in rds.parameters(kind, source, source="user")}
        current = {str(p["ParameterName"]): p for p in rds.parameters(kind, target)}
        skipped = sorted(name for name in wanted if name not in current)
        changes = _changes(wanted, current)
        off = kind == "cluster" and spec.event_scheduler_off
        if off:  # never copied: green needs it OFF, whatever blue has
            changes = [c for c in changes if c["ParameterName"] != EVENT_SCHEDULER]
            scheduler = self._event_scheduler_off(ctx, spec, source, target, current)
            changes += [scheduler] if scheduler else []
        _modify(ctx, spec, _arn(group, kind), owner, changes, result)
        result.copied[target] = sorted(wanted.keys() - set(skipped) - ({EVENT_SCHEDULER} if off else set()))
        if skipped:
            result.skipped[target] = skipped
            ctx.note(
                "parameters_not_copied",
                f"Not copied to {target}: {', '.join(skipped)} (set in {source}, but {family} has no such parameter)",
                group=target,
                parameters=skipped,
            )
        copied = len(wanted) - len(skipped)
        return (
            f"{kind}: {target} has the {copied} value(s) set in {source}"
            + (f", {len(skipped)} not in {family}" if skipped else "")
            + ("; event_scheduler=OFF (green needs it off)" if spec.event_scheduler_off else "")
        )

    def _event_scheduler_off(
        self,
        ctx: PrepareContext,
        spec: GroupSpec,
        source: str,
        target: str,
        current: dict[str, dict[str, Any]],
    ) -> dict[str, Any] | None:
        """Aurora MySQL: say that the copy has the Event Scheduler off; the change that turns it off, if
        the copy does not have it off already (None)."""
        have = current.get(EVENT_SCHEDULER) or {}
        if spec.event_scheduler_was_on:
            ctx.note(
                "event_scheduler_off",
                f"Set event_scheduler=OFF in {target} (it is ON in {source}): AWS requires the Event Scheduler off "
                "on the green environment during a Blue/Green deployment. After the switchover the upgraded "
                f"cluster runs with it OFF; set it ON again in {target} once the deployment is deleted, if you use "
                "events",
                group=target,
            )
        else:
            ctx.note(
                "event_scheduler_off",
                f"event_scheduler is OFF in {target}, as AWS requires on the green environment",
                group=target,
            )
        if str(have.get("ParameterValue", "")).upper() == "OFF" and have.get("Source") == "user":
            return None
        static = str(have.get("ApplyType", "dynamic")) == "static"
        return {
            "ParameterName": EVENT_SCHEDULER,
            "ParameterValue": "OFF",
            "ApplyMethod": "pending-reboot" if static else "immediate",
        }

    def _adopt(
        self, ctx: PrepareContext, kind: ParameterGroupKind, group: dict[str, Any], name: str, family: str
    ) -> dict[str, str]:
        """Use a group rds-maint made earlier (this operation after a crash, or one that was aborted);
        returns its tags."""
        tags = ctx.rds.list_tags(_arn(group, kind))
        owner = tags.get(TAG_OPERATION_ID)
        if owner is None:
            raise NeedsPerson(
                f"a {_label(kind)} named {name} already exists and was not made by rds-maint; rds-maint will not "
                "change it. Rename or delete it, then resume with continue"
            )
        if group.get("DBParameterGroupFamily") != family:
            raise NeedsPerson(f"the existing {_label(kind)} {name} is of family {group.get('DBParameterGroupFamily')}")
        who = "this operation" if owner == ctx.operation.id else f"operation {owner}"
        ctx.note(
            "parameter_group_adopted", f"{_label(kind).capitalize()} {name} already exists (made by {who}); using it"
        )
        return tags


def _changed_at(tags: dict[str, str]) -> datetime | None:
    """When rds-maint last created or changed the group, from its tag (None: no readable record)."""
    try:
        return datetime.fromisoformat(tags[TAG_CHANGED_AT])
    except (KeyError, ValueError):
        return None


class WaitParameterGroupsSettle:
    """A planned wait: 5 minutes after the groups this operation created or changed, before anything uses
    them (AWS asks for it). Measured from the time recorded on the groups, so a restart does not shorten
    it nor start it again; nothing to wait for when no group was created or changed."""

    kind = WAIT_PARAMETER_GROUPS_SETTLE

    def run(self, ctx: ActionContext[ClusterStepParams, SettleRecord]) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: ActionContext[ClusterStepParams, SettleRecord]) -> ActionOutcome:
        prepared = ctx.earlier(PREPARE_PARAMETER_GROUPS)
        changed = prepared.changed_at if prepared else {}
        if not changed:
            return Done("No parameter group was created or changed by this operation: nothing to wait for")
        latest_name, latest = max(
            ((name, datetime.fromisoformat(at)) for name, at in changed.items()), key=lambda x: x[1]
        )
        until = latest + SETTLE
        if ctx.now >= until:
            return Done(
                f"Parameter group(s) {', '.join(sorted(changed))} settled: the last change ({latest_name}, "
                f"{latest:%H:%M:%S} UTC) is at least 5 min old",
                result=SettleRecord(settled_at=ctx.now.isoformat()),
            )
        remaining = (until - ctx.now).total_seconds()
        return Wait(
            condition=f"5 min after the last change to the new parameter group {latest_name} (until "
            f"{until:%H:%M:%S} UTC): AWS asks for it before a cluster or instance uses a new group",
            seconds=max(1, int(remaining) + 1),
            result=SettleRecord(settle_until=until.isoformat()),
            # a planned wait, not a stuck change: the operation's wait_timeout does not apply
            progressing=True,
        )


class DeleteParameterGroups(ImmediateAction):
    """Rollback: delete the groups this operation created (by tag), unless something uses them."""

    kind = DELETE_PARAMETER_GROUPS

    def run(self, ctx: ActionContext[DeleteParameterGroupsParams, DeleteParameterGroupsRecord]) -> ActionOutcome:
        deleted: list[str] = []
        kept: list[str] = []
        for spec in ctx.params.groups:
            kind, name = spec.kind, spec.name
            group = ctx.rds.parameter_group(kind, name)
            if group is None:
                continue
            owner = ctx.rds.list_tags(_arn(group, kind)).get(TAG_OPERATION_ID)
            if owner != ctx.operation.id:
                kept.append(f"{name} (made by {'operation ' + owner if owner else 'someone else'})")
                continue
            try:
                ctx.rds.delete_parameter_group(kind, name)
            except PersonAwsError as exc:
                if exc.code not in IN_USE:
                    raise
                kept.append(f"{name} (in use)")
                continue
            deleted.append(name)
            ctx.note("parameter_group_deleted", f"Deleted {_label(kind)} {name}", name=name)
        message = f"Deleted {', '.join(deleted)}" if deleted else "No parameter group to delete"
        return Done(
            message + (f"; kept {', '.join(kept)}" if kept else ""),
            result=DeleteParameterGroupsRecord(deleted=deleted, kept=kept),
        )
