"""Step kinds of the temp-instance operations on an Aurora cluster (class change, storage, cycle)."""

from __future__ import annotations

from rds_maint.steps.base import NoRecord, StepKind, StepParams


class FailoverParams(StepParams):
    cluster_id: str
    target: str
    # Only when this instance is the writer now (a rollback's fail-back after a failback ran).
    only_if_writer: str | None = None


FAILOVER = StepKind("failover", FailoverParams, NoRecord, disruptive=True)
