"""Fail over a cluster to a chosen instance; done only when that instance is seen as writer.

With `only_if_writer`, only when that instance is the writer now (a rollback moves the writer off
the original writer only if a failback already made it the writer again).
"""

from __future__ import annotations

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, Retry, Wait
from rds_maint.actions.polling import POLL_SECONDS
from rds_maint.errors import NeedsPerson


class Failover:
    name = "failover"
    # The engine announces disruptive steps before and after (status events: apps drain connections).
    disruptive = True

    def run(self, ctx: ActionContext) -> ActionOutcome:
        p = ctx.params
        target = p["target"]
        cluster = ctx.rds.describe_cluster(p["cluster_id"])
        member = cluster.member(target)
        only_if = p.get("only_if_writer")
        if only_if and cluster.writer_id != only_if:
            ctx.note("already_done", f"{only_if} is not the writer of {cluster.id}; no failover to {target} needed")
            return Done(f"no failover needed: the writer is {cluster.writer_id}, not {only_if}")
        if member is None:
            raise NeedsPerson(f"failover target {target} is not a member of cluster {cluster.id}")
        if member.is_writer:
            if cluster.status == "available":
                ctx.note("already_done", f"{target} is already the writer of {cluster.id}")
                return Done(f"{target} is already the writer")
            return self._waiting(ctx, cluster.status)
        if cluster.status != "available" or member.instance.status != "available":
            return Retry(
                f"cluster {cluster.id} is {cluster.status} and {target} is {member.instance.status}; "
                "failing over once both are available",
                POLL_SECONDS["busy"],
            )
        previous = cluster.writer_id
        ctx.rds.failover(cluster.id, target)
        ctx.note(
            "failover_requested",
            f"Failing over {cluster.id} from {previous} to {target}",
            cluster_id=cluster.id,
            from_writer=previous,
            to_writer=target,
        )
        return self._waiting(ctx, cluster.status)

    def _waiting(self, ctx: ActionContext, status: str) -> Wait:
        p = ctx.params
        return Wait(
            condition=f"{p['target']} writer of {p['cluster_id']} and cluster available (now {status})",
            seconds=POLL_SECONDS["failover"],
            transition="failover",
        )

    def check(self, ctx: ActionContext) -> ActionOutcome:
        """One DescribeDBClusters per poll: the writer flag and the cluster status settle together."""
        p = ctx.params
        cluster = ctx.rds.cluster_roles(p["cluster_id"])
        if p["target"] not in cluster.member_ids:
            raise NeedsPerson(f"failover target {p['target']} left cluster {cluster.id}")
        if cluster.writer_id == p["target"] and cluster.status == "available":
            return Done(f"{p['target']} is the writer of {cluster.id}")
        return self._waiting(ctx, cluster.status)
