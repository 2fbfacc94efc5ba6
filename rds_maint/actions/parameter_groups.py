"""Parameter groups for the green environment, and their removal on rollback.

A major upgrade needs groups of the new family: a custom group is copied into a new group of the
target family carrying every parameter a person set (`Source` = `user`) that the new family
still has; a default group maps to the new family's default; a group named in the request is
used as it is. The copy's name is derived from the cluster and the target version and it is
tagged `rds-maint:operation-id`, so a retried step (or a second operation after an abort) finds
it instead of making another. Rollback deletes only groups tagged with this operation's id, and
only when nothing uses them.
"""

from __future__ import annotations

from typing import Any, cast

from rds_maint.actions.base import ActionContext, Done, ImmediateAction, NeedsPerson, Outcome
from rds_maint.errors import PersonAwsError
from rds_maint.rds import TAG_OPERATION_ID, ParameterGroupKind, RdsGateway

MAX_PER_MODIFY = 20  # AWS accepts at most 20 parameters per Modify*ParameterGroup call
ALREADY_EXISTS = frozenset({"DBParameterGroupAlreadyExists", "DBParameterGroupAlreadyExistsFault"})
IN_USE = frozenset({"InvalidDBParameterGroupState", "InvalidDBParameterGroupStateFault"})


def _arn(group: dict[str, Any], kind: ParameterGroupKind) -> str:
    return str(group.get("DBClusterParameterGroupArn" if kind == "cluster" else "DBParameterGroupArn", ""))


def _label(kind: ParameterGroupKind) -> str:
    return "cluster parameter group" if kind == "cluster" else "DB parameter group"


class PrepareParameterGroups(ImmediateAction):
    name = "prepare_parameter_groups"

    def run(self, ctx: ActionContext) -> Outcome:
        messages: list[str] = []
        result: dict[str, Any] = {"created": [], "copied": {}, "skipped": {}}
        for spec in ctx.params["groups"]:
            kind = cast(ParameterGroupKind, spec["kind"])
            if spec["mode"] == "copy":
                messages.append(self._copy(ctx, kind, spec, result))
            else:
                messages.append(self._check(ctx.rds, kind, spec))
        return Done("; ".join(messages), result=result)

    def _check(self, rds: RdsGateway, kind: ParameterGroupKind, spec: dict[str, Any]) -> str:
        target = str(spec["target"])
        group = rds.parameter_group(kind, target)
        if group is None:
            raise NeedsPerson(f"the {_label(kind)} {target} planned for the green environment no longer exists")
        if spec.get("family") and group.get("DBParameterGroupFamily") != spec["family"]:
            raise NeedsPerson(
                f"the {_label(kind)} {target} is of family {group.get('DBParameterGroupFamily')}, not {spec['family']}"
            )
        return f"{kind}: {target} ({spec['mode']})"

    def _copy(self, ctx: ActionContext, kind: ParameterGroupKind, spec: dict[str, Any], result: dict[str, Any]) -> str:
        rds = ctx.rds
        source, target, family = str(spec["source"]), str(spec["target"]), str(spec["family"])
        group = rds.parameter_group(kind, target)
        if group is None:
            try:
                rds.create_parameter_group(
                    kind,
                    target,
                    family,
                    f"Copy of {source} for {family} by rds-maint operation {ctx.operation.id}",
                    {TAG_OPERATION_ID: ctx.operation.id},
                )
                result["created"].append({"kind": kind, "name": target})
                ctx.note("parameter_group_created", f"Created {_label(kind)} {target} ({family})", name=target)
            except PersonAwsError as exc:
                if exc.code not in ALREADY_EXISTS:
                    raise
            group = rds.parameter_group(kind, target)
            if group is None:
                raise NeedsPerson(
                    f"the {_label(kind)} {target} was created but is not visible yet; resume with continue"
                )
        else:
            self._adopt(ctx, kind, group, target, family)

        wanted = {str(p["ParameterName"]): p for p in rds.parameters(kind, source, source="user")}
        current = {str(p["ParameterName"]): p for p in rds.parameters(kind, target)}
        skipped = sorted(name for name in wanted if name not in current)
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
        for start in range(0, len(changes), MAX_PER_MODIFY):
            rds.modify_parameter_group(kind, target, changes[start : start + MAX_PER_MODIFY])
        result["copied"][target] = sorted(wanted.keys() - set(skipped))
        if skipped:
            result["skipped"][target] = skipped
            ctx.note(
                "parameters_not_copied",
                f"Not copied to {target}: {', '.join(skipped)} (set in {source}, but {family} has no such parameter)",
                group=target,
                parameters=skipped,
            )
        copied = len(wanted) - len(skipped)
        return f"{kind}: {target} has the {copied} value(s) set in {source}" + (
            f", {len(skipped)} not in {family}" if skipped else ""
        )

    def _adopt(
        self, ctx: ActionContext, kind: ParameterGroupKind, group: dict[str, Any], name: str, family: str
    ) -> None:
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


class DeleteParameterGroups(ImmediateAction):
    """Rollback: delete the groups this operation created (by tag), unless something uses them."""

    name = "delete_parameter_groups"

    def run(self, ctx: ActionContext) -> Outcome:
        deleted, kept = [], []
        for spec in ctx.params["groups"]:
            kind = cast(ParameterGroupKind, spec["kind"])
            name = str(spec["name"])
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
        return Done(message + (f"; kept {', '.join(kept)}" if kept else ""), result={"deleted": deleted, "kept": kept})
