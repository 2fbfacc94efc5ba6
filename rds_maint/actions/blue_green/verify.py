"""The last step of an engine upgrade: the cluster runs the target version with the groups planned for
green, no deployment and no old cluster are left, and the proxies checked before still track it."""

from __future__ import annotations

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, ImmediateAction
from rds_maint.actions.blue_green.common import cluster_at, our_deployment
from rds_maint.actions.proxies import proxies_tracking
from rds_maint.errors import NeedsPerson
from rds_maint.snapshots import ClusterSnapshot
from rds_maint.steps.blue_green import (
    CHECK_PROXIES,
    SWITCHOVER_BLUE_GREEN,
    VERIFY_ENGINE_UPGRADE,
    VerifyUpgradeParams,
    VerifyUpgradeRecord,
)

__all__ = ["VerifyEngineUpgrade", "custom_group", "group_problems"]

Context = ActionContext[VerifyUpgradeParams, VerifyUpgradeRecord]


def custom_group(group: str | None) -> str | None:
    """The name of a custom parameter group (None for no group or a default one)."""
    name = group or ""
    return name if name and not name.startswith("default.") else None


def group_problems(cluster: ClusterSnapshot, p: VerifyUpgradeParams) -> list[str]:
    """The custom groups planned for green are what a too-early use (under AWS's 5 minutes) could lose: the
    upgraded cluster must use them. Default groups are not compared."""
    problems = []
    planned_cluster_group = custom_group(p.cluster_parameter_group)
    if planned_cluster_group and cluster.parameter_group != planned_cluster_group:
        problems.append(
            f"{cluster.id} uses the cluster parameter group {cluster.parameter_group}, not {planned_cluster_group}"
        )
    planned_group = custom_group(p.instance_parameter_group)
    if planned_group:
        problems += [
            f"{m.id} uses the DB parameter group {m.instance.parameter_group}, not {planned_group}"
            for m in cluster.members
            if m.instance.parameter_group != planned_group
        ]
    return problems


class VerifyEngineUpgrade(ImmediateAction):
    kind = VERIFY_ENGINE_UPGRADE

    def run(self, ctx: Context) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        problems = cluster_at(cluster, p.target_version) + self._leftovers(ctx) + group_problems(cluster, p)
        proxies: list[str] = []
        if p.check_proxies:
            checked = ctx.earlier(CHECK_PROXIES)
            expected = {x.name for x in checked.proxies} if checked else set()
            tracking = {v.name for v in proxies_tracking(ctx.rds, cluster.id, cluster.engine)}
            proxies = sorted(tracking)
            problems += [f"RDS Proxy {name} no longer tracks {cluster.id}" for name in sorted(expected - tracking)]
        if problems:
            raise NeedsPerson(f"verification of {cluster.id} failed: " + "; ".join(problems))
        return Done(
            f"{cluster.id} runs {cluster.engine_version} on {len(cluster.members)} instance(s), writer "
            f"{cluster.writer_id}; no deployment or old cluster left"
            + (f"; proxies {', '.join(proxies)} track it" if proxies else ""),
            result=VerifyUpgradeRecord(
                engine_version=cluster.engine_version, writer=cluster.writer_id, proxies=proxies
            ),
        )

    def _leftovers(self, ctx: Context) -> list[str]:
        """The deployment or the old blue cluster, if either is still there."""
        problems = []
        deployment = our_deployment(ctx)
        if deployment is not None:
            problems.append(
                f"Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} still exists "
                f"({deployment.get('Status')})"
            )
        switched = ctx.earlier(SWITCHOVER_BLUE_GREEN)
        old_id = switched.old_cluster_id if switched else None
        if old_id and ctx.rds.find_cluster(old_id) is not None:
            problems.append(f"the old blue cluster {old_id} still exists")
        return problems
