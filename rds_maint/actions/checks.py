"""Read-only steps: the cluster is as planned before we start, and as promised at the end."""

from __future__ import annotations

from rds_maint.actions.base import ActionContext, Done, ImmediateAction, NeedsPerson, Outcome, Retry
from rds_maint.actions.polling import POLL_SECONDS
from rds_maint.rds import ClusterSnapshot


class CheckCluster(ImmediateAction):
    name = "check_cluster"

    def run(self, ctx: ActionContext) -> Outcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p["cluster_id"])
        missing = [i for i in p.get("members", []) if cluster.member(i) is None]
        if missing:
            raise NeedsPerson(f"planned instances are no longer in cluster {cluster.id}: {', '.join(missing)}")
        if cluster.writer_id != p["expected_writer"]:
            raise NeedsPerson(
                f"the writer of {cluster.id} is {cluster.writer_id}, not {p['expected_writer']} as planned; "
                "check the cluster, then abort and create a new operation"
            )
        if cluster.status != "available":
            return Retry(
                f"cluster {cluster.id} is {cluster.status}; starting once it is available",
                POLL_SECONDS["busy"],
            )
        return Done(f"Cluster {cluster.id} is available with writer {cluster.writer_id}")


def rolling_problems(ctx: ActionContext, cluster: ClusterSnapshot) -> list[str]:
    """What every temp-instance operation promises at the end: the original writer, no temp instance."""
    problems = []
    if cluster.writer_id != ctx.params["expected_writer"]:
        problems.append(f"writer is {cluster.writer_id}, expected {ctx.params['expected_writer']}")
    temp_id = ctx.operation.context.get("temp_instance_id")
    if temp_id and cluster.member(temp_id) is not None:
        problems.append(f"temp instance {temp_id} is still in the cluster")
    return problems


class VerifyInstanceClasses(ImmediateAction):
    name = "verify_instance_classes"

    def run(self, ctx: ActionContext) -> Outcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p["cluster_id"])
        problems = rolling_problems(ctx, cluster)
        for instance_id, expected in p.get("expected_classes", {}).items():
            member = cluster.member(instance_id)
            if member is None:
                problems.append(f"{instance_id} is missing")
            elif member.instance.instance_class != expected:
                problems.append(f"{instance_id} is {member.instance.instance_class}, expected {expected}")
        if problems:
            raise NeedsPerson(f"verification of {cluster.id} failed: " + "; ".join(problems))
        classes = {m.id: m.instance.instance_class for m in cluster.members}
        return Done(
            f"Cluster {cluster.id}: writer {cluster.writer_id}; "
            + ", ".join(f"{k}={v}" for k, v in sorted(classes.items())),
            result={"writer": cluster.writer_id, "classes": classes},
        )
