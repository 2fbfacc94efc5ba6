"""When to look again: adaptive polling from the expected duration of each transition.

A fixed 30 s poll wastes describe calls early in a 10-minute modify and adds up to 30 s
after a 30 s failover. Knowing roughly how long a transition takes, we look rarely at
first and often near the expected end, backing off in proportion as it overruns. RDS throttles at
about 12 requests/s per account and region, shared with everything else: fewer calls matter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from rds_maint.config import expected_seconds_overrides, poll_interval

__all__ = ["EXPECTED_SECONDS", "POLL_SECONDS", "PollPolicy", "class_factor"]

# Fallback intervals for actions that do not name a transition, and for busy resources.
POLL_SECONDS = {
    "create": 30,
    "modify": 30,
    "delete": 30,
    "reboot": 10,
    "failover": 10,
    "busy": 30,
}

# Typical durations in seconds (docs/aws-behaviour.md, "Durations"): what AWS usually needs, not a limit.
EXPECTED_SECONDS: dict[str, float] = {
    "create": 480,
    "modify": 630,  # ~10 min, plus ~30 s before the status even moves
    "reboot": 60,
    "failover": 35,
    "delete": 300,
    "storage": 300,
    "blue_green_create": 2400,
    "switchover": 60,
    # DeleteBlueGreenDeployment after a switchover (the deployment only): about a minute in the simulator,
    # no field figure; with DeleteTarget (unwind) the green cluster goes too: ~20 min
    # (docs/aws-behaviour.md, "Durations")
    "blue_green_delete": 60,
    "blue_green_delete_target": 1200,
    # DeleteDBCluster once its instances are gone (the old blue cluster after an upgrade)
    "cluster_delete": 300,
    # RDS DB instances and Multi-AZ DB clusters (docs/aws-behaviour.md, "DB instances"; each owner refines
    # its figure with a source): a storage modification until the new storage shows (optimization excluded),
    # a class change of a DB instance, its reboot, an in-place engine upgrade, a Multi-AZ DB cluster's
    # ModifyDBCluster, a RebootDBCluster, and an instance Blue/Green's green build.
    "instance_storage": 900,
    # after it, `storage-optimization`: "typical migration times are under 24 hours, but the process can take up
    # to several days" (botocore model, ModifyDBInstance StorageType); 6 h, the 6-hour rule's window (A2)
    "instance_storage_optimization": 21600,
    "instance_class": 1200,
    "instance_reboot": 120,
    "instance_upgrade": 1800,
    "multi_az_cluster_modify": 1800,
    "cluster_reboot": 180,
    "instance_blue_green_create": 3600,
}

_SIZE = re.compile(r"\.(\d*)xlarge$")


def class_factor(instance_class: str | None) -> float:
    """Bigger instances take longer to create and resize: 1x up to xlarge, more above."""
    if not instance_class:
        return 1.0
    match = _SIZE.search(instance_class)
    if not match:
        return 1.0
    size = int(match.group(1) or 1)
    return 1.0 if size <= 1 else 1.2 if size <= 4 else 1.5


@dataclass(frozen=True)
class PollPolicy:
    """When to look again: the change seen at most ~5 % after it ends, with few looks.

    The usual range of a transition runs from `early` before its expected duration to `late` after
    it (AWS runs late more often than early). Before that range nothing
    can be over: one look at its start, or one every `max_seconds` if that is further off (a resource
    that failed is still seen within `max_seconds`). Inside the range, where the end is likely, a
    look every `step` of the time spent but at least every `near_seconds`. Past it (an overrun, maybe
    hours for a big Blue/Green), back off: every `step` of the time spent. A look then always falls
    within `step` of the true end, so latency stays under ~5 % of the wait (the issue's target for
    a whole operation, which a single wait such as a 5-minute storage change must meet alone).
    `fixed` (the poll_interval setting) forces one interval.
    """

    min_seconds: int = 10  # no look closer than ~10 s: a describe sooner rarely sees a change, and costs budget
    # the longest gap between looks: before the usual range it bounds how late a change that ended early (or a
    # resource that failed) is seen. 2 min, not 5: a Multi-AZ DB cluster's storage change (~15 min) expected
    # like its class change (~30 min) was seen 4.5 min late, 29 % of the operation (bench/operation_cost.py)
    max_seconds: int = 120
    near_seconds: int = 30
    early: float = 0.1
    late: float = 0.2
    # a look every 5 % of the time spent near the end and past it: at 10 %, an Aurora storage change (~4.5 min)
    # was seen 15 s late, 5.5 % of its operation; below ~10 min of waiting, `min_seconds` and `near_seconds`
    # bound the looks anyway, and past 40 min `max_seconds` does
    step: float = 0.05
    fixed: int | None = None
    expected: Mapping[str, float] = field(default_factory=lambda: dict(EXPECTED_SECONDS))

    def expected_for(self, transition: str, instance_class: str | None = None) -> float:
        base = self.expected.get(transition, 300.0)
        if transition in ("create", "modify"):
            base *= class_factor(instance_class)
        return base

    def next_wait(self, transition: str, elapsed: float, instance_class: str | None = None) -> int:
        if self.fixed is not None:
            return self.fixed
        expected = self.expected_for(transition, instance_class)
        first_look, usual_end = expected * (1.0 - self.early), expected * (1.0 + self.late)
        if elapsed < first_look:
            wait = first_look - elapsed
        elif elapsed < usual_end:
            wait = min(self.step * elapsed, float(self.near_seconds))
        else:
            wait = self.step * elapsed
        return int(min(self.max_seconds, max(self.min_seconds, wait)))

    @classmethod
    def from_env(cls) -> PollPolicy:
        """RDS_MAINT_POLL_INTERVAL forces a fixed interval; RDS_MAINT_EXPECTED_SECONDS (JSON) overrides durations."""
        expected = dict(EXPECTED_SECONDS)
        expected.update(expected_seconds_overrides())
        return cls(fixed=poll_interval(), expected=expected)
