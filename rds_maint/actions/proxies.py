"""RDS Proxy around a Blue/Green switchover: check before, verify after, never touch the targets.

AWS documents that a proxy follows a Blue/Green switchover by itself when the blue cluster is
already its target when the deployment is created, and that `DescribeDBProxyTargets` shows the
new targets only once the switchover has fully completed. So nothing is deregistered or
registered around the switchover; afterwards the proxy's TRACKED_CLUSTER target must name the
upgraded cluster and its RDS_INSTANCE targets must turn AVAILABLE (they read REGISTERING for a
while after a switchover). Health is judged on the RDS_INSTANCE targets only: on AWS the
TRACKED_CLUSTER target carries no `TargetHealth` (docs/aws-behaviour.md). Deregistering or
re-registering a live target drops the proxy's connections, so rds-maint never does it: if the
targets stay wrong past a grace period it pauses with the commands a person can run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, ImmediateAction, Retry, Wait
from rds_maint.errors import NeedsPerson
from rds_maint.ports import RdsPort
from rds_maint.steps.blue_green import (
    CHECK_PROXIES,
    VERIFY_PROXY_TARGETS,
    CheckProxiesRecord,
    ClusterStepParams,
    ProxyRef,
    VerifyProxyTargetsRecord,
)

__all__ = [
    "DEFAULT_TARGET_GROUP",
    "POLL_SECONDS",
    "SETTLE_GRACE_SECONDS",
    "CheckProxies",
    "ProxyView",
    "VerifyContext",
    "VerifyProxyTargets",
    "proxies_tracking",
    "proxy_view",
]

DEFAULT_TARGET_GROUP = "default"
POLL_SECONDS = 15
SETTLE_GRACE_SECONDS = 300  # instance targets read REGISTERING for a while after a switchover
_FAMILIES = {"aurora-postgresql": "POSTGRESQL", "aurora-mysql": "MYSQL"}


@dataclass(frozen=True)
class ProxyView:
    name: str
    status: str
    target_group: str
    targets: list[dict[str, Any]]

    @property
    def tracked(self) -> list[str]:
        return [str(t.get("RdsResourceId")) for t in self.targets if t.get("Type") == "TRACKED_CLUSTER"]

    def instance_targets(self, cluster_id: str) -> list[dict[str, Any]]:
        return [
            t
            for t in self.targets
            if t.get("Type") == "RDS_INSTANCE" and t.get("TrackedClusterId", cluster_id) == cluster_id
        ]

    def unhealthy(self) -> list[str]:
        """Instance targets that are not AVAILABLE, as `id: STATE (reason: description)`.

        Only RDS_INSTANCE targets carry TargetHealth; the TRACKED_CLUSTER target has none on AWS.
        """
        problems = []
        for target in self.targets:
            if target.get("Type") != "RDS_INSTANCE":
                continue
            health = target.get("TargetHealth") or {}
            state = str(health.get("State", "UNKNOWN"))
            if state != "AVAILABLE":
                detail = ": ".join(str(health[k]) for k in ("Reason", "Description") if health.get(k))
                problems.append(f"{target.get('RdsResourceId')}: {state}" + (f" ({detail})" if detail else ""))
        return problems


def proxy_view(rds: RdsPort, name: str, status: str, target_group: str = DEFAULT_TARGET_GROUP) -> ProxyView:
    return ProxyView(name=name, status=status, target_group=target_group, targets=rds.proxy_targets(name, target_group))


def proxies_tracking(
    rds: RdsPort, cluster_id: str, engine: str | None = None, listed: list[dict[str, Any]] | None = None
) -> list[ProxyView]:
    """Every proxy whose (default) target group tracks `cluster_id` (among `listed`, if already read)."""
    family = _FAMILIES.get(engine or "")
    found = []
    for proxy in rds.db_proxies() if listed is None else listed:
        if family and proxy.get("EngineFamily") not in (None, family):
            continue
        view = proxy_view(rds, str(proxy["DBProxyName"]), str(proxy.get("Status", "unknown")))
        if cluster_id in view.tracked:
            found.append(view)
    return found


class CheckProxies(ImmediateAction):
    """Before the deployment is created: every proxy tracking the cluster is available and healthy."""

    kind = CHECK_PROXIES

    def run(self, ctx: ActionContext[ClusterStepParams, CheckProxiesRecord]) -> ActionOutcome:
        cluster_id = ctx.params.cluster_id
        cluster = ctx.rds.describe_cluster(cluster_id)
        proxies = proxies_tracking(ctx.rds, cluster_id, cluster.engine)
        if not proxies:
            return Done(f"No RDS Proxy targets {cluster_id}", result=CheckProxiesRecord(proxies=[]))
        problems = [problem for proxy in proxies for problem in _not_healthy(proxy)]
        if problems:
            raise NeedsPerson(
                f"RDS Proxy is not healthy for {cluster_id}: " + "; ".join(problems) + ". A proxy follows a "
                "Blue/Green switchover only if it can reach the cluster: fix the proxy (credentials, network, "
                "targets), then resume with continue; or set skip_proxy_retarget in a new operation"
            )
        registering = [name for proxy in proxies for name in _registering(proxy)]
        if registering:
            return Retry(f"proxy targets still registering: {', '.join(registering)}", POLL_SECONDS)
        return Done(
            f"RDS Proxy healthy for {cluster_id}: " + ", ".join(p.name for p in proxies),
            result=CheckProxiesRecord(proxies=[ProxyRef(name=p.name, target_group=p.target_group) for p in proxies]),
        )


def _not_healthy(proxy: ProxyView) -> list[str]:
    """What keeps a proxy from following a switchover (targets still REGISTERING are only waited for)."""
    problems = [f"proxy {proxy.name} is {proxy.status}"] if proxy.status != "available" else []
    return problems + [f"proxy {proxy.name} target {p}" for p in proxy.unhealthy() if "REGISTERING" not in p]


def _registering(proxy: ProxyView) -> list[str]:
    """Instance targets still REGISTERING (the TRACKED_CLUSTER target carries no TargetHealth)."""
    return [
        f"{proxy.name}/{target.get('RdsResourceId')}"
        for target in proxy.targets
        if target.get("Type") == "RDS_INSTANCE" and (target.get("TargetHealth") or {}).get("State") == "REGISTERING"
    ]


VerifyContext = ActionContext[ClusterStepParams, VerifyProxyTargetsRecord]


class VerifyProxyTargets:
    """After the switchover: the proxies track the upgraded cluster and its instance targets are AVAILABLE.

    Only looks. Deregistering or re-registering a live target drops every connection the proxy holds,
    so when the targets stay wrong past the grace period the step pauses with the exact commands a
    person can run (after judging that the drop is acceptable); `continue` then looks again, with a
    fresh grace period for the targets to settle.
    """

    kind = VERIFY_PROXY_TARGETS

    def run(self, ctx: VerifyContext) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: VerifyContext) -> ActionOutcome:
        cluster_id = ctx.params.cluster_id
        cluster = ctx.rds.cluster_roles(cluster_id)
        # Which proxies to watch is settled at the first look (those recorded before the switchover and any
        # other tracking the cluster now); later looks read only those: one DescribeDBProxies, then the
        # targets of each, instead of every proxy's targets twice.
        listed = ctx.rds.db_proxies()
        views: dict[str, ProxyView] = {}  # read already in this look
        wanted = _watched(ctx, cluster.engine, listed, views)
        if not wanted:
            return Done(f"No RDS Proxy tracks {cluster_id}", result=VerifyProxyTargetsRecord(proxies_ok=[]))
        wrong = _wrong(ctx.rds, cluster_id, set(cluster.member_ids), wanted, listed, views)
        if not wrong:
            return Done(
                f"RDS Proxy {', '.join(sorted(wanted))} tracks {cluster_id}, every instance target AVAILABLE",
                result=VerifyProxyTargetsRecord(proxies_ok=sorted(wanted)),
            )
        # The grace period starts at the step's first wait; a `continue` starts it again (the engine restarts
        # the wait), so targets a person re-registered get time to leave REGISTERING.
        waited = _since(ctx.waiting_since or ctx.step.started_at, ctx.now)
        problems = "; ".join(f"{view.name}: {problem}" for view, problem in wrong)
        if waited < SETTLE_GRACE_SECONDS:
            return Wait(
                condition=f"RDS Proxy targets AVAILABLE on the upgraded cluster ({problems})",
                seconds=POLL_SECONDS,
                result=VerifyProxyTargetsRecord(watched_proxies=wanted),
            )
        raise NeedsPerson(
            f"RDS Proxy does not serve the upgraded {cluster_id} after {int(waited)} s: {problems}. rds-maint does "
            "not change proxy targets itself: deregistering or registering a target drops the "
            "connections the proxy holds. Check the proxy (its secret, security groups, target group); if its "
            "targets must be set again, run: "
            + " ; ".join(_commands(view, cluster_id, ctx.operation.region) for view, _ in wrong)
            + ". Then resume with continue to look again, or mark_complete to end here"
        )


def _watched(
    ctx: VerifyContext, engine: str | None, listed: list[dict[str, Any]], views: dict[str, ProxyView]
) -> dict[str, str]:
    """The proxies this step watches (name -> target group): as settled at its first look, or, at the first
    look, those check_proxies recorded and any other now tracking the cluster (their views go in `views`)."""
    wanted = dict(ctx.so_far().watched_proxies)
    if wanted:
        return wanted
    checked = ctx.earlier(CHECK_PROXIES)
    wanted = {p.name: p.target_group for p in (checked.proxies if checked else [])}
    for view in proxies_tracking(ctx.rds, ctx.params.cluster_id, engine, listed):
        wanted.setdefault(view.name, view.target_group)
        views[view.name] = view
    return wanted


def _wrong(
    rds: RdsPort,
    cluster_id: str,
    members: set[str],
    wanted: dict[str, str],
    listed: list[dict[str, Any]],
    views: dict[str, ProxyView],
) -> list[tuple[ProxyView, str]]:
    """Each watched proxy that does not serve `cluster_id` now, with why."""
    proxies = {str(p.get("DBProxyName")): p for p in listed}
    wrong: list[tuple[ProxyView, str]] = []
    for name, group in sorted(wanted.items()):
        proxy = proxies.get(name)
        if proxy is None:
            raise NeedsPerson(f"RDS Proxy {name}, which tracked {cluster_id} before the switchover, is gone")
        seen = views.get(name)
        view = (
            seen
            if seen is not None and seen.target_group == group
            else proxy_view(rds, name, str(proxy.get("Status", "unknown")), group)
        )
        problem = _what_is_wrong(view, cluster_id, members)
        if problem:
            wrong.append((view, problem))
    return wrong


def _what_is_wrong(view: ProxyView, cluster_id: str, members: set[str]) -> str:
    """Why `view` does not serve `cluster_id` now (empty: it does). The TRACKED_CLUSTER target carries no
    TargetHealth on AWS: only its RdsResourceId is judged, health comes from the RDS_INSTANCE targets."""
    if view.tracked != [cluster_id]:
        return f"its cluster target is {', '.join(view.tracked) or 'missing'}, not {cluster_id}"
    if view.status != "available":
        return f"the proxy is {view.status}"
    ids = {str(t.get("RdsResourceId")) for t in view.instance_targets(cluster_id)}
    if ids != members:
        return f"instance targets {', '.join(sorted(ids)) or 'none'} vs members {', '.join(sorted(members))}"
    return "; ".join(view.unhealthy())


def _commands(view: ProxyView, cluster_id: str, region: str) -> str:
    """The AWS CLI commands that point the proxy's target group at `cluster_id` again."""
    where = f"--db-proxy-name {view.name} --target-group-name {view.target_group} --region {region}"
    commands = [
        f"aws rds deregister-db-proxy-targets {where} --db-cluster-identifiers {stale}" for stale in view.tracked
    ]
    commands.append(f"aws rds register-db-proxy-targets {where} --db-cluster-identifiers {cluster_id}")
    return " && ".join(commands)


def _since(start: datetime | None, now: datetime) -> float:
    return (now - start).total_seconds() if start else 0.0
