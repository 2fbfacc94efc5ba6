"""RDS Proxy around a Blue/Green switchover: check before, verify after, repair only if needed.

AWS documents that a proxy follows a Blue/Green switchover by itself when the blue cluster is
already its target when the deployment is created, and that `DescribeDBProxyTargets` shows the
new targets only once the switchover has fully completed. So nothing is deregistered or
registered around the switchover; afterwards the proxy's TRACKED_CLUSTER target must name the
upgraded cluster and its RDS_INSTANCE targets must turn AVAILABLE. Only if the cluster target is
wrong, or the instance targets stay unhealthy past a grace period, is the cluster re-registered
(a repair, recorded as an event).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rds_maint.actions.base import ActionContext, Done, ImmediateAction, NeedsPerson, Outcome, Retry, Wait
from rds_maint.actions.records import recorded
from rds_maint.errors import PersonAwsError
from rds_maint.rds import RdsGateway

DEFAULT_TARGET_GROUP = "default"
POLL_SECONDS = 15
SETTLE_GRACE_SECONDS = 300  # instance targets may read REGISTERING for a while after a switchover
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
        """Targets that are not AVAILABLE, as `id: STATE (reason: description)`."""
        problems = []
        for target in self.targets:
            health = target.get("TargetHealth") or {}
            state = str(health.get("State", "UNKNOWN"))
            if state != "AVAILABLE":
                detail = ": ".join(str(health[k]) for k in ("Reason", "Description") if health.get(k))
                problems.append(f"{target.get('RdsResourceId')}: {state}" + (f" ({detail})" if detail else ""))
        return problems


def proxy_view(rds: RdsGateway, name: str, status: str, target_group: str = DEFAULT_TARGET_GROUP) -> ProxyView:
    return ProxyView(name=name, status=status, target_group=target_group, targets=rds.proxy_targets(name, target_group))


def proxies_tracking(
    rds: RdsGateway, cluster_id: str, engine: str | None = None, listed: list[dict[str, Any]] | None = None
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

    name = "check_proxies"

    def run(self, ctx: ActionContext) -> Outcome:
        cluster_id = ctx.params["cluster_id"]
        cluster = ctx.rds.describe_cluster(cluster_id)
        proxies = proxies_tracking(ctx.rds, cluster_id, cluster.engine)
        if not proxies:
            return Done(f"No RDS Proxy targets {cluster_id}", result={"proxies": []})
        registering = []
        problems = []
        for proxy in proxies:
            if proxy.status != "available":
                problems.append(f"proxy {proxy.name} is {proxy.status}")
            for target in proxy.targets:
                state = (target.get("TargetHealth") or {}).get("State")
                if state == "REGISTERING":
                    registering.append(f"{proxy.name}/{target.get('RdsResourceId')}")
            problems += [f"proxy {proxy.name} target {p}" for p in proxy.unhealthy() if "REGISTERING" not in p]
        if problems:
            raise NeedsPerson(
                f"RDS Proxy is not healthy for {cluster_id}: " + "; ".join(problems) + ". A proxy follows a "
                "Blue/Green switchover only if it can reach the cluster: fix the proxy (credentials, network, "
                "targets), then resume with continue; or set skip_proxy_retarget in a new operation"
            )
        if registering:
            return Retry(f"proxy targets still registering: {', '.join(registering)}", POLL_SECONDS)
        names = [{"name": p.name, "target_group": p.target_group} for p in proxies]
        return Done(
            f"RDS Proxy healthy for {cluster_id}: " + ", ".join(p.name for p in proxies),
            result={"proxies": names},
        )


class VerifyProxyTargets:
    """After the switchover: the proxies track the upgraded cluster and its instances are AVAILABLE."""

    name = "verify_proxy_targets"

    def run(self, ctx: ActionContext) -> Outcome:
        return self.check(ctx)

    def check(self, ctx: ActionContext) -> Outcome:
        cluster_id = ctx.params["cluster_id"]
        cluster = ctx.rds.cluster_roles(cluster_id)
        # Which proxies to watch is settled at the first look (those recorded before the switchover and any
        # other tracking the cluster now); later looks read only those: one DescribeDBProxies, then the
        # targets of each, instead of every proxy's targets twice.
        listed = ctx.rds.db_proxies()
        wanted: dict[str, str] = dict(ctx.step.result.get("watched_proxies") or {})
        views: dict[str, ProxyView] = {}  # read already in this look
        if not wanted:
            wanted = {
                str(p["name"]): str(p.get("target_group", DEFAULT_TARGET_GROUP))
                for p in recorded(ctx, "check_proxies", "proxies") or []
            }
            for view in proxies_tracking(ctx.rds, cluster_id, cluster.engine, listed):
                wanted.setdefault(view.name, view.target_group)
                views[view.name] = view
        if not wanted:
            return Done(f"No RDS Proxy tracks {cluster_id}", result={"proxies_ok": []})
        repairs: dict[str, str] = dict(ctx.step.result.get("repairs") or {})
        started = _since(ctx.step.started_at, ctx.now)
        waiting: list[str] = []
        members = set(cluster.member_ids)
        proxies = {str(p.get("DBProxyName")): p for p in listed}
        for name, group in sorted(wanted.items()):
            proxy = proxies.get(name)
            if proxy is None:
                raise NeedsPerson(f"RDS Proxy {name}, which tracked {cluster_id} before the switchover, is gone")
            seen = views.get(name)
            view = (
                seen
                if seen is not None and seen.target_group == group
                else proxy_view(ctx.rds, name, str(proxy.get("Status", "unknown")), group)
            )
            if view.tracked != [cluster_id]:
                if name in repairs:
                    raise NeedsPerson(
                        f"RDS Proxy {name} tracks {view.tracked or 'nothing'} again after rds-maint registered "
                        f"{cluster_id}; something else changes its targets. Fix it, then resume with continue"
                    )
                self._repair(ctx, view, cluster_id, f"its cluster target is {view.tracked or 'missing'}")
                repairs[name] = ctx.now.isoformat()
                waiting.append(f"{name}: re-registered {cluster_id}")
                continue
            targets = view.instance_targets(cluster_id)
            ids = {str(t.get("RdsResourceId")) for t in targets}
            unhealthy = view.unhealthy()
            if ids == members and not unhealthy and view.status == "available":
                continue
            detail = (
                f"instance targets {sorted(ids)} vs members {sorted(members)}"
                if ids != members
                else "; ".join(unhealthy)
            )
            repaired_at = repairs.get(name)
            since = _since(datetime.fromisoformat(repaired_at), ctx.now) if repaired_at else started
            if since < SETTLE_GRACE_SECONDS:
                waiting.append(f"{name}: {detail or view.status}")
                continue
            if repaired_at:
                raise NeedsPerson(
                    f"RDS Proxy {name} still does not serve {cluster_id} after a re-registration: {detail}. "
                    "Check the proxy (its secret, security groups, the target group), then resume with continue"
                )
            self._repair(ctx, view, cluster_id, f"its targets stayed unhealthy for {int(since)} s: {detail}")
            repairs[name] = ctx.now.isoformat()
            waiting.append(f"{name}: re-registered {cluster_id}")
        if waiting:
            return Wait(
                condition="RDS Proxy targets AVAILABLE on the upgraded cluster (" + "; ".join(waiting) + ")",
                seconds=POLL_SECONDS,
                result={"repairs": repairs, "watched_proxies": wanted},
            )
        return Done(
            f"RDS Proxy {', '.join(sorted(wanted))} tracks {cluster_id}, every instance target AVAILABLE"
            + (f" (repaired: {', '.join(sorted(repairs))})" if repairs else ""),
            result={"proxies_ok": sorted(wanted), "repairs": repairs},
        )

    def _repair(self, ctx: ActionContext, view: ProxyView, cluster_id: str, why: str) -> None:
        """Point the target group at `cluster_id` again: deregister what it tracks, register the cluster."""
        for stale in view.tracked:
            try:
                ctx.rds.deregister_proxy_cluster(view.name, view.target_group, stale)
            except PersonAwsError as exc:
                if exc.code != "DBProxyTargetNotFoundFault":
                    raise
        try:
            ctx.rds.register_proxy_cluster(view.name, view.target_group, cluster_id)
        except PersonAwsError as exc:
            if exc.code != "DBProxyTargetAlreadyRegisteredFault":
                raise
        ctx.note(
            "proxy_target_repaired",
            f"Repaired RDS Proxy {view.name}: {why}; registered {cluster_id} in target group {view.target_group}",
            proxy=view.name,
            previous_targets=view.tracked,
            cluster_id=cluster_id,
        )


def _since(start: datetime | None, now: datetime) -> float:
    return (now - start).total_seconds() if start else 0.0
