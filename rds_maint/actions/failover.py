"""Fail over a cluster to a chosen instance; done only when that instance is seen as writer.

With `only_if_writer`, only when that instance is the writer now (a rollback moves the writer off
the original writer only if a failback already made it the writer again).
"""

from __future__ import annotations

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, Retry, Wait
from rds_maint.actions.polling import POLL_SECONDS
from rds_maint.errors import NeedsPerson
from rds_maint.steps.base import NoRecord
from rds_maint.steps.cluster import FAILOVER, FailoverParams

__all__ = ["Failover"]

Context = ActionContext[FailoverParams, NoRecord]


class Failover:
    kind = FAILOVER

    def run(self, ctx: Context) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        member = cluster.member(p.target)
        if p.only_if_writer and cluster.writer_id != p.only_if_writer:
            ctx.note(
                "already_done",
                f"{p.only_if_writer} is not the writer of {cluster.id}; no failover to {p.target} needed",
            )
            return Done(f"no failover needed: the writer is {cluster.writer_id}, not {p.only_if_writer}")
        if member is None:
            raise NeedsPerson(f"failover target {p.target} is not a member of cluster {cluster.id}")
        if member.is_writer:
            if cluster.status == "available":
                ctx.note("already_done", f"{p.target} is already the writer of {cluster.id}")
                return Done(f"{p.target} is already the writer")
            return self._waiting(p, cluster.status)
        if cluster.status != "available" or member.instance.status != "available":
            return Retry(
                f"cluster {cluster.id} is {cluster.status} and {p.target} is {member.instance.status}; "
                "failing over once both are available",
                POLL_SECONDS["busy"],
            )
        previous = cluster.writer_id
        ctx.rds.failover(cluster.id, p.target)
        ctx.note(
            "failover_requested",
            f"Failing over {cluster.id} from {previous} to {p.target}",
            cluster_id=cluster.id,
            from_writer=previous,
            to_writer=p.target,
        )
        return self._waiting(p, cluster.status)

    @staticmethod
    def _waiting(p: FailoverParams, status: str) -> Wait:
        return Wait(
            condition=f"{p.target} writer of {p.cluster_id} and cluster available (now {status})",
            seconds=POLL_SECONDS["failover"],
            transition="failover",
        )

    def check(self, ctx: Context) -> ActionOutcome:
        """One DescribeDBClusters per poll: the writer flag and the cluster status settle together."""
        p = ctx.params
        cluster = ctx.rds.cluster_roles(p.cluster_id)
        if p.target not in cluster.member_ids:
            raise NeedsPerson(f"failover target {p.target} left cluster {cluster.id}")
        if cluster.writer_id == p.target and cluster.status == "available":
            return Done(f"{p.target} is the writer of {cluster.id}")
        return self._waiting(p, cluster.status)
