"""Blue/Green actions for engine_upgrade: create, wait, switch over, keep, clean up, verify, unwind.

Every action looks at the deployment first: a crash between an AWS call and the save makes the
engine run the step again, and the deployment (found by the id recorded in the create step, or by
the `rds-maint:operation-id` tag) tells whether the call already took effect. Statuses lag after a
call (a switchover still reads AVAILABLE for a moment), so a wait ends only on what the end state
looks like: AVAILABLE seen twice, SWITCHOVER_COMPLETED *and* the cluster at the target version.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, ImmediateAction, Retry, Wait
from rds_maint.actions.proxies import proxies_tracking
from rds_maint.actions.records import arn_name, instance_arn, recorded, tagged_by
from rds_maint.errors import NeedsPerson, PersonAwsError
from rds_maint.plans.engine_upgrade import final_snapshot_name
from rds_maint.snapshots import TAG_OPERATION_ID, ClusterSnapshot

PROVISIONING = "PROVISIONING"
AVAILABLE = "AVAILABLE"
SWITCHOVER_IN_PROGRESS = "SWITCHOVER_IN_PROGRESS"
SWITCHOVER_COMPLETED = "SWITCHOVER_COMPLETED"
SWITCHOVER_FAILED = "SWITCHOVER_FAILED"
INVALID_CONFIGURATION = "INVALID_CONFIGURATION"
DELETING = "DELETING"

BAD_STATE = frozenset({"InvalidBlueGreenDeploymentStateFault", "InvalidBlueGreenDeploymentState"})
ALREADY_EXISTS = frozenset({"BlueGreenDeploymentAlreadyExistsFault", "BlueGreenDeploymentAlreadyExists"})
SNAPSHOT_EXISTS = frozenset({"DBClusterSnapshotAlreadyExistsFault", "DBClusterSnapshotAlreadyExists"})
POLL = {"provisioning": 60, "available": 30, "switchover": 10, "delete": 30, "cluster_delete": 30}
# AWS takes about 40 minutes to build an Aurora green environment, longer for large clusters; while
# AWS reports progress (PROVISIONING), the wait may run this long before the operation's own
# wait_timeout starts counting.
GREEN_BUDGET = timedelta(hours=6)
RETENTION_POLL_MAX = 3600
# AWS refuses a switchover (or a deletion) with InvalidBlueGreenDeploymentStateFault while green members are
# not ready, even as the deployment reads AVAILABLE; nothing was started. Ask again on later looks, backing off,
# for this long (Terraform retries a refused switchover for 10 minutes: terraform-provider-aws#36241), then pause.
REFUSAL_BUDGET = timedelta(minutes=15)
REFUSAL_BACKOFF = (15, 30, 60, 120)


# -- finding our deployment ------------------------------------------------------------------


def our_deployment(ctx: ActionContext[Any, Any]) -> dict[str, Any] | None:
    """The deployment this operation created: by the id the create step recorded, else by tag."""
    deployment_id = recorded(ctx, "create_blue_green_deployment", "deployment_id")
    if deployment_id:
        return ctx.rds.find_blue_green_deployment(str(deployment_id))
    return next((d for d in ctx.rds.blue_green_deployments() if tagged_by(d, ctx.operation.id)), None)


def _require(ctx: ActionContext[Any, Any]) -> dict[str, Any]:
    deployment = our_deployment(ctx)
    if deployment is None:
        raise NeedsPerson(
            f"the Blue/Green deployment of this operation is gone (id "
            f"{recorded(ctx, 'create_blue_green_deployment', 'deployment_id') or 'unknown'}); check the cluster, "
            "then abort, or mark_complete if the upgrade was finished by hand"
        )
    return deployment


def _members(deployment: dict[str, Any]) -> str:
    return "; ".join(
        f"{arn_name(str(d.get('SourceMember', '?')))} -> {arn_name(str(d.get('TargetMember', '?')))}: "
        f"{d.get('Status', '?')}"
        for d in deployment.get("SwitchoverDetails") or []
    )


def _details(deployment: dict[str, Any]) -> str:
    return str(deployment.get("StatusDetails") or "no details given")


def _tasks(deployment: dict[str, Any]) -> str:
    tasks = deployment.get("Tasks") or []
    done = sum(1 for t in tasks if t.get("Status") == "COMPLETED")
    current = next((t.get("Name") for t in tasks if t.get("Status") == "IN_PROGRESS"), None)
    return f"{done}/{len(tasks)} tasks" + (f", {current}" if current else "") if tasks else "no tasks listed"


def _invalid(deployment: dict[str, Any]) -> NeedsPerson:
    return NeedsPerson(
        f"Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} is INVALID_CONFIGURATION: "
        f"{_details(deployment)}. Members: {_members(deployment)}. AWS cannot switch it over and cannot repair "
        "it: resume with rollback to delete the deployment and the green cluster (then create a new operation "
        "once the cause is fixed)"
    )


def _refused(ctx: ActionContext[Any, Any], call: str, identifier: str, status: object, exc: PersonAwsError) -> Retry:
    """AWS refused `call` while the deployment reads `status`, a state that should accept it: ask again on a
    later look (backing off), and pause with AWS's message once the refusals have lasted REFUSAL_BUDGET.

    The first refusal's time is kept in the step's result (saved with the step), so a crash or a new
    process does not restart the budget; a pause clears it, so `continue` asks again with a fresh one.
    """
    refusals: dict[str, Any] = ctx.step.result.setdefault("refusals", {})
    seen = dict(refusals.get(call) or {})
    first = datetime.fromisoformat(str(seen["first_at"])) if seen.get("first_at") else ctx.now
    count = int(seen.get("count", 0)) + 1
    if ctx.now - first >= REFUSAL_BUDGET:
        refusals.pop(call, None)
        minutes = int((ctx.now - first).total_seconds() // 60)
        raise NeedsPerson(
            f"AWS keeps refusing {call} of Blue/Green deployment {identifier} while it reads {status} "
            f"({count} tries over {minutes} min): {exc.code}: {exc.aws_message}. Nothing was started. Check the "
            "green environment's members (aws rds describe-blue-green-deployments --blue-green-deployment-identifier "
            f"{identifier}), then resume with continue to ask again, or with rollback"
        )
    refusals[call] = {"first_at": first.isoformat(), "count": count}
    seconds = REFUSAL_BACKOFF[min(count, len(REFUSAL_BACKOFF)) - 1]
    return Retry(f"AWS refused {call} while {identifier} reads {status} ({exc.aws_message}); asking again", seconds)


def _accepted(ctx: ActionContext[Any, Any], call: str) -> None:
    """The call went through: forget its refusals."""
    refusals = ctx.step.result.get("refusals")
    if isinstance(refusals, dict):
        refusals.pop(call, None)


def _cluster_at(cluster: ClusterSnapshot, version: str) -> list[str]:
    """What keeps `cluster` from being available at `version` (empty: nothing)."""
    problems = []
    if cluster.engine_version != version:
        problems.append(f"{cluster.id} runs {cluster.engine_version}")
    if cluster.status != "available":
        problems.append(f"{cluster.id} is {cluster.status}")
    for member in cluster.members:
        if member.instance.status != "available":
            problems.append(f"{member.id} is {member.instance.status}")
        elif member.instance.engine_version and member.instance.engine_version != version:
            problems.append(f"{member.id} runs {member.instance.engine_version}")
    if not cluster.members:
        problems.append(f"{cluster.id} has no instances")
    return problems


# -- validate ------------------------------------------------------------------------------------


class CheckUpgradeReady(ImmediateAction):
    """At start: the cluster is still as planned and no other deployment is in the way."""

    name = "check_upgrade_ready"

    def run(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p["cluster_id"])
        if cluster.engine_version != p["source_version"]:
            raise NeedsPerson(
                f"{cluster.id} runs {cluster.engine_version}, not {p['source_version']} as planned; check the "
                "cluster, then abort and create a new operation"
            )
        for deployment in ctx.rds.blue_green_deployments(source_arn=p["cluster_arn"]):
            if not tagged_by(deployment, ctx.operation.id):
                raise NeedsPerson(
                    f"{cluster.id} already has Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} "
                    f"({deployment.get('Status')}), not made by this operation; AWS allows one per cluster. Delete "
                    "it (or let it finish), then resume with continue"
                )
        if cluster.status != "available":
            return Retry(f"{cluster.id} is {cluster.status}; starting once it is available", POLL["available"])
        return Done(f"{cluster.id} is available at {cluster.engine_version}, writer {cluster.writer_id}")


# -- create and wait -------------------------------------------------------------------------------


class CreateBlueGreenDeployment(ImmediateAction):
    name = "create_blue_green_deployment"

    def _adopt(self, ctx: ActionContext[Any, Any], deployment: dict[str, Any]) -> ActionOutcome:
        ctx.note(
            "blue_green_adopted",
            f"Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} already exists for this "
            "operation; adopting it",
        )
        return self._done(deployment)

    def _done(self, deployment: dict[str, Any]) -> Done:
        return Done(
            f"Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} "
            f"({deployment.get('BlueGreenDeploymentName')}): green cluster {arn_name(str(deployment['Target']))}",
            result={
                "deployment_id": deployment["BlueGreenDeploymentIdentifier"],
                "green_cluster_id": arn_name(str(deployment["Target"])),
            },
        )

    def _existing(self, ctx: ActionContext[Any, Any]) -> dict[str, Any] | None:
        p = ctx.params
        for deployment in ctx.rds.blue_green_deployments(source_arn=p["cluster_arn"]):
            if tagged_by(deployment, ctx.operation.id):
                return deployment
            raise NeedsPerson(
                f"{p['cluster_id']} already has Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} "
                f"({deployment.get('Status')}), not made by this operation; delete it, then resume with continue"
            )
        return None

    def run(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        p = ctx.params
        existing = self._existing(ctx)
        if existing is not None:
            return self._adopt(ctx, existing)
        cluster = ctx.rds.describe_cluster(p["cluster_id"])
        if cluster.status != "available":
            return Retry(f"{cluster.id} is {cluster.status}; creating the deployment once it is available", 30)
        try:
            created = ctx.rds.create_blue_green_deployment(
                name=p["deployment_name"],
                source_arn=p["cluster_arn"],
                target_engine_version=p["target_version"],
                cluster_parameter_group=p.get("cluster_parameter_group"),
                instance_parameter_group=p.get("instance_parameter_group"),
                tags={TAG_OPERATION_ID: ctx.operation.id},
            )
        except PersonAwsError as exc:
            if exc.code not in ALREADY_EXISTS:
                raise
            found = next(
                (
                    d
                    for d in ctx.rds.blue_green_deployments()
                    if d.get("BlueGreenDeploymentName") == p["deployment_name"]
                ),
                None,
            )
            if found is None or not tagged_by(found, ctx.operation.id):
                raise NeedsPerson(
                    f"a Blue/Green deployment named {p['deployment_name']} exists but is not this operation's; "
                    "delete or rename it, then resume with continue"
                ) from None
            return self._adopt(ctx, found)
        ctx.note(
            "blue_green_created",
            f"Created Blue/Green deployment {created['BlueGreenDeploymentIdentifier']}: green "
            f"{arn_name(str(created['Target']))} at {p['target_version']}",
            deployment_id=created["BlueGreenDeploymentIdentifier"],
        )
        return self._done(created)


class WaitBlueGreenAvailable:
    """Green is ready: AVAILABLE seen on two checks in a row, green cluster available at the target."""

    name = "wait_blue_green_available"

    def run(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        deployment = _require(ctx)
        status = deployment.get("Status")
        identifier = deployment["BlueGreenDeploymentIdentifier"]
        if status == INVALID_CONFIGURATION:
            raise _invalid(deployment)
        if status == PROVISIONING:
            result: dict[str, Any] = {"available_seen": 0}
            if ctx.step.started_at is None or ctx.now - ctx.step.started_at < GREEN_BUDGET:
                result["wait_started_at"] = ctx.now.isoformat()  # AWS reports progress: not stuck
            return Wait(
                condition=f"{identifier} AVAILABLE (now PROVISIONING: {_tasks(deployment)})",
                seconds=POLL["provisioning"],
                result=result,
                transition="blue_green_create",
            )
        if status != AVAILABLE:
            raise NeedsPerson(
                f"Blue/Green deployment {identifier} is {status} ({_details(deployment)}) while its green "
                "environment was being built; check it, then resume with continue or rollback"
            )
        green = ctx.rds.find_cluster(arn_name(str(deployment["Target"])))
        problems = (
            ["the green cluster is missing"] if green is None else _cluster_at(green, ctx.params["target_version"])
        )
        if problems:
            return Wait(
                condition=f"green cluster available at {ctx.params['target_version']} ({'; '.join(problems)})",
                seconds=POLL["available"],
                result={"available_seen": 0},
            )
        seen = int(ctx.step.result.get("available_seen", 0)) + 1
        if seen < 2:
            return Wait(
                condition=f"{identifier} AVAILABLE on the next look too (seen once)",
                seconds=POLL["available"],
                result={"available_seen": seen},
            )
        assert green is not None
        return Done(
            f"Green cluster {green.id} is available at {green.engine_version} with "
            f"{len(green.members)} instance(s); deployment {identifier} AVAILABLE",
            result={"available_seen": seen, "green_cluster_id": green.id},
        )


# -- switchover ----------------------------------------------------------------------------------


class SwitchoverBlueGreen:
    name = "switchover_blue_green"
    # The engine announces disruptive steps before and after (status events: apps drain connections).
    disruptive = True

    def run(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        deployment = _require(ctx)
        status = deployment.get("Status")
        if status == AVAILABLE:
            return self._request(ctx, deployment)
        if status in (SWITCHOVER_IN_PROGRESS, SWITCHOVER_COMPLETED):
            ctx.note("switchover_adopted", f"Switchover of {deployment['BlueGreenDeploymentIdentifier']} is {status}")
            return self.check(ctx)
        if status == SWITCHOVER_FAILED:
            return self._failed(ctx, deployment)
        if status == INVALID_CONFIGURATION:
            raise _invalid(deployment)
        if status == PROVISIONING:
            return Retry(f"{deployment['BlueGreenDeploymentIdentifier']} is PROVISIONING", POLL["available"])
        raise NeedsPerson(f"Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} is {status}")

    def _request(self, ctx: ActionContext[Any, Any], deployment: dict[str, Any]) -> ActionOutcome:
        identifier = str(deployment["BlueGreenDeploymentIdentifier"])
        timeout = int(ctx.params["switchover_timeout"])
        try:
            ctx.rds.switchover_blue_green_deployment(identifier, timeout)
        except PersonAwsError as exc:
            if exc.code not in BAD_STATE:
                raise
            # Either green is not ready yet (AWS refuses even while the deployment reads AVAILABLE, and nothing
            # was started), or an earlier call of ours took effect and the status lags. The deployment tells:
            # a switchover under way is followed; one still AVAILABLE is asked again on a later look.
            now = _require(ctx)
            status = now.get("Status")
            if status in (SWITCHOVER_IN_PROGRESS, SWITCHOVER_COMPLETED):
                _accepted(ctx, "SwitchoverBlueGreenDeployment")
                ctx.note("switchover_adopted", f"Switchover of {identifier} is {status} (requested earlier)")
                return self._waiting(ctx, str(status))
            return _refused(ctx, "SwitchoverBlueGreenDeployment", identifier, status, exc)
        _accepted(ctx, "SwitchoverBlueGreenDeployment")
        ctx.note(
            "switchover_requested",
            f"Requested switchover of {identifier} (SwitchoverTimeout {timeout} s): writes pause for a moment while "
            f"{ctx.params['cluster_id']} moves to {ctx.params['target_version']}",
            deployment_id=identifier,
            cluster_id=ctx.params["cluster_id"],
        )
        return self._waiting(ctx, "just requested", {"switchover_requested_at": ctx.now.isoformat()})

    def _waiting(self, ctx: ActionContext[Any, Any], now_status: str, result: dict[str, Any] | None = None) -> Wait:
        return Wait(
            condition=f"SWITCHOVER_COMPLETED and {ctx.params['cluster_id']} available at "
            f"{ctx.params['target_version']} ({now_status})",
            seconds=POLL["switchover"],
            result=result or {},
            transition="switchover",
        )

    def _failed(self, ctx: ActionContext[Any, Any], deployment: dict[str, Any]) -> ActionOutcome:
        """Report a failed switchover once (pause); a `continue` after that asks for a new switchover."""
        identifier = deployment["BlueGreenDeploymentIdentifier"]
        report = f"{identifier}: {_details(deployment)}"
        if ctx.step.result.get("failure_reported") == report:
            ctx.step.result.pop("failure_reported", None)
            ctx.note("switchover_retried", f"Switchover of {identifier} failed before; requesting it again")
            return self._request(ctx, deployment)
        ctx.step.result["failure_reported"] = report  # saved with the pause
        raise NeedsPerson(
            f"Switchover of Blue/Green deployment {identifier} failed: {_details(deployment)}. Members: "
            f"{_members(deployment)}. AWS rolled the switchover back: {ctx.params['cluster_id']} still runs "
            f"{ctx.params['source_version']} and serves as before. Resume with continue to request the switchover "
            f"again (SwitchoverTimeout {ctx.params['switchover_timeout']} s), or with rollback to delete the "
            "deployment and the green cluster"
        )

    def check(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        deployment = _require(ctx)
        status = deployment.get("Status")
        if status == SWITCHOVER_FAILED:
            return self._failed(ctx, deployment)
        if status == INVALID_CONFIGURATION:
            raise _invalid(deployment)
        if status != SWITCHOVER_COMPLETED:
            return self._waiting(ctx, str(status))
        cluster = ctx.rds.describe_cluster(ctx.params["cluster_id"])
        problems = _cluster_at(cluster, ctx.params["target_version"])
        if problems:
            return self._waiting(ctx, "SWITCHOVER_COMPLETED; " + "; ".join(problems))
        old_cluster = arn_name(str(deployment["Source"]))
        old_members = [
            arn_name(str(d["SourceMember"]))
            for d in deployment.get("SwitchoverDetails") or []
            if ":db:" in str(d.get("SourceMember", ""))
        ]
        return Done(
            f"{cluster.id} runs {cluster.engine_version} (writer {cluster.writer_id}); the old blue cluster is "
            f"{old_cluster}",
            result={
                "old_cluster_id": old_cluster,
                "old_members": old_members,
                "switchover_completed_at": ctx.now.isoformat(),
            },
        )


# -- after the switchover --------------------------------------------------------------------------


class RetainOldCluster:
    """Keep the old blue cluster for `hours` after the switchover (a wait on the clock, not on AWS)."""

    name = "retain_old_cluster"

    def run(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        switched = recorded(ctx, "switchover_blue_green", "switchover_completed_at")
        start = datetime.fromisoformat(str(switched)) if switched else (ctx.step.started_at or ctx.now)
        until = start + timedelta(hours=int(ctx.params["hours"]))
        old = recorded(ctx, "switchover_blue_green", "old_cluster_id") or "the old cluster"
        if ctx.now >= until:
            return Done(f"Kept {old} for {ctx.params['hours']} h after the switchover")
        remaining = (until - ctx.now).total_seconds()
        return Wait(
            condition=f"keeping {old} until {until:%Y-%m-%d %H:%M} UTC (old_cluster_retention_hours)",
            seconds=max(1, min(RETENTION_POLL_MAX, int(remaining) + 1)),
            # a planned wait, not a stuck change: the operation's wait_timeout does not apply
            result={"keep_until": until.isoformat(), "wait_started_at": ctx.now.isoformat()},
        )


class DeleteBlueGreenDeployment:
    """Clean-up: delete the switched-over deployment (never its target: that is the upgraded cluster)."""

    name = "delete_blue_green_deployment"

    def run(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        deployment = our_deployment(ctx)
        if deployment is None:
            ctx.note("already_done", "The Blue/Green deployment is already deleted")
            return Done("The Blue/Green deployment is deleted")
        identifier = str(deployment["BlueGreenDeploymentIdentifier"])
        status = deployment.get("Status")
        if status == DELETING:
            return self._waiting(identifier)
        if status != SWITCHOVER_COMPLETED:
            raise NeedsPerson(
                f"refusing to clean up: Blue/Green deployment {identifier} is {status}, not SWITCHOVER_COMPLETED"
            )
        try:
            # No DeleteTarget: AWS refuses the parameter, even false, once SWITCHOVER_COMPLETED (API reference).
            ctx.rds.delete_switched_over_blue_green_deployment(identifier)
        except PersonAwsError as exc:
            if exc.code not in BAD_STATE:
                raise
            now = our_deployment(ctx)
            if now is None or now.get("Status") == DELETING:  # an earlier call of ours took effect
                _accepted(ctx, "DeleteBlueGreenDeployment")
                return self._waiting(identifier)
            return _refused(ctx, "DeleteBlueGreenDeployment", identifier, now.get("Status"), exc)
        _accepted(ctx, "DeleteBlueGreenDeployment")
        ctx.note("blue_green_delete_requested", f"Requested deletion of Blue/Green deployment {identifier}")
        return self._waiting(identifier)

    def _waiting(self, identifier: str) -> Wait:
        return Wait(
            condition=f"Blue/Green deployment {identifier} deleted",
            seconds=POLL["delete"],
            transition="blue_green_delete",
        )

    def check(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        deployment = our_deployment(ctx)
        if deployment is None:
            return Done("The Blue/Green deployment is deleted")
        return self._waiting(str(deployment["BlueGreenDeploymentIdentifier"]))


class DeleteOldCluster:
    """Delete the old blue cluster of this operation's deployment: its instances, then the cluster
    with a final snapshot. Only the cluster the deployment named as its source after the switchover,
    only at the version it was upgraded from, only with the instances it had then."""

    name = "delete_old_cluster"

    def run(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        p = ctx.params
        old_id = recorded(ctx, "switchover_blue_green", "old_cluster_id")
        old_members = set(recorded(ctx, "switchover_blue_green", "old_members") or [])
        if not old_id:
            raise NeedsPerson("the switchover step recorded no old cluster; rds-maint will not guess which to delete")
        if old_id == p["cluster_id"] or not str(old_id).startswith(f"{p['cluster_id']}-old"):
            raise NeedsPerson(f"refusing to delete {old_id}: it is not the old blue cluster of {p['cluster_id']}")
        following = self._follow(ctx, str(old_id))
        if following is not None:
            return following
        old = ctx.rds.find_cluster(str(old_id))
        if old is None:
            return Done(f"The old blue cluster {old_id} is deleted", result={"old_cluster_deleted": old_id})
        if old.engine_version != p["source_version"]:
            raise NeedsPerson(
                f"refusing to delete {old.id}: it runs {old.engine_version}, not {p['source_version']} "
                "(the old blue cluster of this upgrade would)"
            )
        strangers = sorted({m.id for m in old.members} - old_members)
        if strangers:
            raise NeedsPerson(
                f"refusing to delete {old.id}: it has instances that were not part of the switchover "
                f"({', '.join(strangers)}); remove them, then resume with continue"
            )
        if old.status == "deleting":
            return Wait(
                condition=f"{old.id} deleted (now deleting)",
                seconds=POLL["cluster_delete"],
                transition="cluster_delete",
            )
        if old.raw.get("DeletionProtection"):
            raise NeedsPerson(
                f"the old blue cluster {old.id} has deletion protection; turn it off (modify-db-cluster "
                "--no-deletion-protection) if it may go, then resume with continue; or mark_complete to keep it"
            )
        tag_as_ours(ctx, old)
        if old.members:
            busy = []
            for member in sorted(old.members, key=lambda m: m.is_writer):  # readers first: no failover
                status = member.instance.status
                if status == "deleting":
                    continue
                if status != "available":
                    busy.append(f"{member.id} is {status}")
                    continue
                ctx.rds.delete_instance(member.id)
                ctx.note("delete_requested", f"Requested deletion of old instance {member.id}", instance=member.id)
            remaining = ", ".join(m.id for m in old.members)
            return Wait(
                condition=f"old instances deleted ({remaining})" + (f"; {'; '.join(busy)}" if busy else ""),
                seconds=POLL["cluster_delete"],
                transition="delete",
                result={"deleting_members": [] if busy else sorted(m.id for m in old.members)},
            )
        if old.status != "available":
            return Retry(f"{old.id} is {old.status}; deleting it once it is available", POLL["cluster_delete"])
        snapshot = final_snapshot_name(old.id, ctx.operation.id)
        try:
            ctx.rds.delete_cluster(old.id, snapshot)
        except PersonAwsError as exc:
            if exc.code not in SNAPSHOT_EXISTS:
                raise
            raise NeedsPerson(
                f"a snapshot named {snapshot} already exists, so {old.id} cannot take its final snapshot under that "
                "name; check whose it is, then delete it and resume with continue"
            ) from None
        ctx.note(
            "old_cluster_delete_requested",
            f"Requested deletion of the old blue cluster {old.id} with final snapshot {snapshot}",
            cluster_id=old.id,
            snapshot=snapshot,
        )
        return Wait(
            condition=f"{old.id} deleted (final snapshot {snapshot})",
            seconds=POLL["cluster_delete"],
            result={"final_snapshot": snapshot},
            transition="cluster_delete",
        )

    def _follow(self, ctx: ActionContext[Any, Any], old_id: str) -> ActionOutcome | None:
        """A deletion under way is followed with one DescribeDBClusters per look; None: look at everything.

        The safety checks ran when the deletions were asked for; the cluster's member list shows any
        instance added since (then the full look refuses it), and the end of each phase.
        """
        deleting = set(ctx.step.result.get("deleting_members") or [])
        if not deleting and "final_snapshot" not in ctx.step.result:
            return None
        roles = ctx.rds.find_cluster_roles(old_id)
        if roles is None:
            return Done(f"The old blue cluster {old_id} is deleted", result={"old_cluster_deleted": old_id})
        if roles.status == "deleting":
            condition = f"{old_id} deleted (now deleting)"
            return Wait(condition=condition, seconds=POLL["cluster_delete"], transition="cluster_delete")
        if roles.member_ids and set(roles.member_ids) <= deleting:
            return Wait(
                condition=f"old instances deleted ({', '.join(roles.member_ids)})",
                seconds=POLL["cluster_delete"],
                transition="delete",
            )
        return None


def tag_as_ours(ctx: ActionContext[Any, Any], cluster: ClusterSnapshot) -> None:
    """Tag a cluster and its instances as this operation's: the IAM policy deletes only tagged ones (the old
    blue cluster after a switchover, the green one before DeleteTarget). Looks first; a member already
    deleting was tagged before its deletion was asked for."""
    tag = {TAG_OPERATION_ID: ctx.operation.id}
    arn = str(cluster.raw.get("DBClusterArn", ""))
    if not arn:
        return
    if cluster.tags.get(TAG_OPERATION_ID) != ctx.operation.id:
        ctx.rds.add_tags(arn, tag)
    for member in cluster.members:
        if member.instance.status != "deleting" and member.instance.tags.get(TAG_OPERATION_ID) != ctx.operation.id:
            ctx.rds.add_tags(instance_arn(arn, member.id), tag)


class VerifyEngineUpgrade(ImmediateAction):
    name = "verify_engine_upgrade"

    def run(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p["cluster_id"])
        problems = _cluster_at(cluster, p["target_version"])
        deployment = our_deployment(ctx)
        if deployment is not None:
            problems.append(
                f"Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} still exists "
                f"({deployment.get('Status')})"
            )
        old_id = recorded(ctx, "switchover_blue_green", "old_cluster_id")
        if old_id and ctx.rds.find_cluster(str(old_id)) is not None:
            problems.append(f"the old blue cluster {old_id} still exists")
        # The custom groups planned for green are what a too-early use (under AWS's 5 minutes) could lose: the
        # upgraded cluster must use them. Default groups are not compared.
        planned_cluster_group = _custom(p.get("cluster_parameter_group"))
        if planned_cluster_group and cluster.parameter_group != planned_cluster_group:
            problems.append(
                f"{cluster.id} uses the cluster parameter group {cluster.parameter_group}, not {planned_cluster_group}"
            )
        planned_group = _custom(p.get("instance_parameter_group"))
        if planned_group:
            problems += [
                f"{m.id} uses the DB parameter group {m.instance.parameter_group}, not {planned_group}"
                for m in cluster.members
                if m.instance.parameter_group != planned_group
            ]
        proxies: list[str] = []
        if p.get("check_proxies"):
            expected = {str(x["name"]) for x in recorded(ctx, "check_proxies", "proxies") or []}
            tracking = {v.name for v in proxies_tracking(ctx.rds, cluster.id, cluster.engine)}
            proxies = sorted(tracking)
            problems += [f"RDS Proxy {name} no longer tracks {cluster.id}" for name in sorted(expected - tracking)]
        if problems:
            raise NeedsPerson(f"verification of {cluster.id} failed: " + "; ".join(problems))
        return Done(
            f"{cluster.id} runs {cluster.engine_version} on {len(cluster.members)} instance(s), writer "
            f"{cluster.writer_id}; no deployment or old cluster left"
            + (f"; proxies {', '.join(proxies)} track it" if proxies else ""),
            result={"engine_version": cluster.engine_version, "writer": cluster.writer_id, "proxies": proxies},
        )


def _custom(group: object) -> str | None:
    """The name of a custom parameter group (None for no group or a default one)."""
    name = str(group or "")
    return name if name and not name.startswith("default.") else None


# -- abort / rollback --------------------------------------------------------------------------------


class UnwindBlueGreen:
    """Before the switchover: delete the deployment *and* the green cluster. After it: AWS cannot
    switch back, so the old blue cluster is kept; rollback explains how to go back and pauses."""

    name = "unwind_blue_green"

    def run(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        p = ctx.params
        deployment = our_deployment(ctx)
        if deployment is not None:
            identifier = str(deployment["BlueGreenDeploymentIdentifier"])
            status = deployment.get("Status")
            green = arn_name(str(deployment["Target"]))
            if status == SWITCHOVER_COMPLETED:
                return self._after_switchover(ctx, deployment)
            if status == SWITCHOVER_IN_PROGRESS:
                return Wait(
                    condition=f"the switchover of {identifier} to end",
                    seconds=POLL["switchover"],
                    transition="switchover",
                )
            if status == DELETING:
                return self._waiting(ctx, identifier, green)
            if status == PROVISIONING and ctx.step.result.get("refused_while_provisioning"):
                return self._provisioning(ctx, deployment, "AWS refused to delete it while PROVISIONING")
            unready = self._prepare_green(ctx, deployment, green)
            if unready is not None:
                return unready
            try:
                ctx.rds.delete_blue_green_deployment(identifier, delete_target=True)
            except PersonAwsError as exc:
                if exc.code not in BAD_STATE:
                    raise
                now = our_deployment(ctx)
                if now is None or now.get("Status") == DELETING:  # an earlier call of ours took effect
                    _accepted(ctx, "DeleteBlueGreenDeployment")
                    return self._waiting(ctx, identifier, green)
                if now.get("Status") == PROVISIONING:
                    # AWS may refuse to delete a deployment whose green environment is still being built: ask
                    # again once the build ends (AWS reports progress, so the wait timeout does not apply).
                    ctx.step.result["refused_while_provisioning"] = True
                    return self._provisioning(ctx, now, f"AWS: {exc.aws_message}")
                return _refused(ctx, "DeleteBlueGreenDeployment", identifier, now.get("Status"), exc)
            _accepted(ctx, "DeleteBlueGreenDeployment")
            ctx.note(
                "blue_green_delete_requested",
                f"Requested deletion of Blue/Green deployment {identifier} and its green cluster {green}",
                deployment_id=identifier,
                green_cluster_id=green,
            )
            return self._waiting(ctx, identifier, green)
        green_id = ctx.step.result.get("green_cluster_id") or recorded(
            ctx, "create_blue_green_deployment", "green_cluster_id"
        )
        if green_id and ctx.rds.find_cluster(str(green_id)) is not None:
            return self._waiting(ctx, "the deployment", str(green_id))
        cluster = ctx.rds.describe_cluster(p["cluster_id"])
        if cluster.engine_version == p["target_version"] and p["target_version"] != p["source_version"]:
            return self._after_switchover(ctx, None)
        return Done(
            f"No Blue/Green deployment left; {cluster.id} runs {cluster.engine_version}"
            + (f"; green cluster {green_id} deleted" if green_id else "")
        )

    def _prepare_green(
        self, ctx: ActionContext[Any, Any], deployment: dict[str, Any], green_id: str
    ) -> ActionOutcome | None:
        """Make the green cluster of *this* deployment (never the blue one) deletable with DeleteTarget; look
        first (idempotent). None: nothing in the way, delete now.

        DeleteTarget=true fails while the green cluster has deletion protection, which green copies from blue
        (Aurora user guide): turn it off. And RDS deletes the green cluster and its instances under the
        caller's own DeleteDBCluster / DeleteDBInstance permissions (IAM: Blue/Green's dependent actions); the
        role deletes only what carries this operation's tag, and green copies blue's tags, not ours: tag the
        green cluster and each green instance first."""
        cluster_id = ctx.params["cluster_id"]
        if not green_id or green_id == cluster_id or arn_name(str(deployment.get("Source", ""))) != cluster_id:
            identifier = deployment["BlueGreenDeploymentIdentifier"]
            raise NeedsPerson(
                f"refusing to delete the target of Blue/Green deployment {identifier}: its green cluster "
                f"{green_id or '(none)'} is not a green copy of {cluster_id}"
            )
        green = ctx.rds.find_cluster(green_id)
        if green is None:
            return None
        if not green.raw.get("DeletionProtection"):
            tag_as_ours(ctx, green)
            return None
        if green.status != "available":
            if deployment.get("Status") == PROVISIONING:
                return self._provisioning(ctx, deployment, f"the green cluster {green_id} has deletion protection")
            return Retry(
                f"the green cluster {green_id} has deletion protection (copied from {cluster_id}) and is "
                f"{green.status}; turning it off once it is available",
                POLL["delete"],
            )
        try:
            ctx.rds.turn_off_cluster_deletion_protection(green_id)
        except PersonAwsError as exc:
            raise NeedsPerson(
                f"the green cluster {green_id} of this operation's deployment has deletion protection (copied from "
                f"{cluster_id}), which keeps AWS from deleting it, and rds-maint could not turn it off "
                f"({exc.code}: {exc.aws_message}). Run: aws rds modify-db-cluster --db-cluster-identifier "
                f"{green_id} --no-deletion-protection --apply-immediately --region {ctx.operation.region} ; then "
                "resume with continue"
            ) from None
        ctx.note(
            "green_deletion_protection_off",
            f"Turned off deletion protection on the green cluster {green_id} (copied from {cluster_id}) so that it "
            f"can be deleted with the deployment; {cluster_id} keeps its own",
            cluster_id=green_id,
        )
        # Delete on the next look, once the cluster shows the change (look before acting).
        return Retry(f"deletion protection turned off on {green_id}; deleting the deployment next", 15)

    def _provisioning(self, ctx: ActionContext[Any, Any], deployment: dict[str, Any], why: str) -> Wait:
        return Wait(
            condition=f"{deployment['BlueGreenDeploymentIdentifier']} to finish PROVISIONING ({_tasks(deployment)}) "
            f"before it is deleted ({why})",
            seconds=POLL["provisioning"],
            result={"wait_started_at": ctx.now.isoformat()},
            transition="blue_green_create",
        )

    def _waiting(self, ctx: ActionContext[Any, Any], what: str, green: str) -> Wait:
        return Wait(
            condition=f"{what} and green cluster {green} deleted",
            seconds=POLL["delete"],
            result={"green_cluster_id": green},
            transition="blue_green_delete_target",
        )

    def _after_switchover(self, ctx: ActionContext[Any, Any], deployment: dict[str, Any] | None) -> ActionOutcome:
        p = ctx.params
        cluster_id = p["cluster_id"]
        old_id = str(
            (arn_name(str(deployment["Source"])) if deployment else None)
            or recorded(ctx, "switchover_blue_green", "old_cluster_id")
            or p.get("old_cluster_id")
        )
        cluster = ctx.rds.describe_cluster(cluster_id)
        old = ctx.rds.find_cluster(old_id)
        if p["kind"] == "abort":
            return Done(
                f"The switchover had happened: {cluster_id} runs {cluster.engine_version}; "
                + (f"the old blue cluster {old_id} is kept" if old else f"the old blue cluster {old_id} is gone")
                + (f" and deployment {deployment['BlueGreenDeploymentIdentifier']} remains" if deployment else "")
            )
        if cluster.engine_version == p["source_version"]:
            return Done(f"{cluster_id} runs {cluster.engine_version} again (switched back by hand)")
        snapshot = recorded(ctx, "delete_old_cluster", "final_snapshot")
        if old is not None:
            where = (
                f"The old blue cluster {old_id} ({old.engine_version}, instances "
                f"{', '.join(m.id for m in old.members) or 'none'}) is kept, unchanged since the switchover"
            )
        else:
            where = f"The old blue cluster {old_id} no longer exists" + (
                f"; its final snapshot is {snapshot} (restore-db-cluster-from-snapshot)" if snapshot else ""
            )
        raise NeedsPerson(
            f"Rollback after the switchover: {cluster_id} already runs {cluster.engine_version}, and AWS cannot "
            f"switch a Blue/Green deployment back. {where}. Writes made since the switchover exist only on "
            f"{cluster_id}. To go back: stop writes; rename {cluster_id} (modify-db-cluster "
            f"--db-cluster-identifier {cluster_id} --new-db-cluster-identifier {cluster_id}-upgraded "
            f"--apply-immediately, and its instances likewise), then rename {old_id} to {cluster_id} (and each "
            f"instance back to its name without -old1); check that RDS Proxy tracks {cluster_id}; copy any data "
            f"written since the switchover. Then resume with continue (rds-maint checks {cluster_id} runs "
            f"{p['source_version']} and ends rolled_back), or mark_complete to end here"
            + (f". The deployment {deployment['BlueGreenDeploymentIdentifier']} is left as it is" if deployment else "")
        )
