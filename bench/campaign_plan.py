"""RDS requests and time of planning a campaign by tag, against the number of targets.

Plain script, no assertions: it prints a table. For each number of targets, that many Aurora clusters (1
writer, 1 reader) and as many untagged ones are seeded in the simulator, and a campaign by tag is planned
(`rds_maint.campaign.planner.plan_campaign`: the tag resolved, every target previewed as `rds-maint plan`
previews it) at the campaign's default request budget (2 requests/s). Requests are the simulator's count
of RDS calls served, split into the tag resolution (DescribeDBClusters with no identifier) and the
per-target previews. The listing is one request here because moto answers every cluster in one reply; on
RDS it is one per 100 clusters of the Region (docs/aws-behaviour.md, "Campaign targets").

Planning is paced by the budget, on the engine's clock: "paced" is how long planning took on the
simulator's virtual clock (what it takes on AWS, plus AWS's answer times), "peak 60 s" the most requests
the simulator answered in any 60 s of that clock, as a rate, set against the budget (and RDS's burst of
300 requests and 12/s per account and Region, FIELD_NOTES 4.9). "CPU s" is this process's wall time, the
waits being virtual.

    PYTHONPATH=$PWD .venv/bin/python bench/campaign_plan.py [--targets 5 20 50]
"""

from __future__ import annotations

import argparse
import bisect
import os
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from moto import mock_aws

from rds_maint.campaign.planner import plan_campaign
from rds_maint.campaign_model import DEFAULT_BUDGET_RPS, CampaignRequest
from rds_maint.engine import Engine
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.store import FileStore
from rds_sim import SimulatedAurora, VirtualClock

REGION = "us-east-1"
TAG = ("fleet", "bench")
WINDOW = timedelta(seconds=60)


def busiest_window(times: list[datetime]) -> int:
    """The most calls in any 60 s that starts on a call."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + WINDOW) - n for n, t in enumerate(times)), default=0)


def measure(targets: int) -> dict[str, float]:
    with mock_aws(), tempfile.TemporaryDirectory() as root:
        clock = VirtualClock()
        with SimulatedAurora(clock=clock, region=REGION) as sim:
            for n in range(targets):
                sim.seed_cluster(f"bench-{n:04d}", readers=1, tags=dict([TAG]))
                sim.seed_cluster(f"other-{n:04d}", readers=1, tags={"fleet": "other"})
            gateway = RdsGateway(sim.clients(make_rds_client)(REGION), sleep=clock.sleep)
            engine = Engine(FileStore(Path(root) / "state"), lambda _region: gateway, clock)
            request = CampaignRequest.model_validate(
                {
                    "type": "instance_type_change",
                    "tag": TAG,
                    "region": REGION,
                    "params": {"target_instance_type": "db.r6g.xlarge"},
                    "max_concurrency": 5,
                }
            )
            before = len(sim.calls)
            began = clock.now()
            started = time.perf_counter()
            plan = plan_campaign(engine, request, "c-bench")
            seconds = time.perf_counter() - started
            paced = (clock.now() - began).total_seconds()
            made = sim.calls[before:]
            calls = Counter(c.operation for c in made)
            # the tag's listing: DescribeDBClusters naming no cluster, one per page
            listing = sum(
                1 for c in made if c.operation == "DescribeDBClusters" and "DBClusterIdentifier" not in c.params
            )
    assert len(plan.runnable) == targets, [t.refusal for t in plan.refused]
    total = sum(calls.values())
    return {
        "targets": targets,
        "requests": total,
        "listing": listing,
        "per_target": (total - listing) / targets,
        "seconds": seconds,
        "paced": paced,
        "mean_rps": total / paced if paced else 0.0,
        "peak_rps": busiest_window([c.at for c in made]) / WINDOW.total_seconds(),
        "recorded": plan.rate.requests,
        "expected_hours": plan.expected_seconds / 3600,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, nargs="+", default=[5, 20, 50, 100])
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    print(f"budget {DEFAULT_BUDGET_RPS:g} req/s")
    header = f"{'targets':>7} {'RDS requests':>12} {'recorded':>8} {'listing':>7} {'per target':>10}"
    header += f" {'CPU s':>6} {'paced':>9} {'mean req/s':>10} {'peak 60 s':>9} {'campaign h':>10}"
    print(header)
    for targets in args.targets:
        row = measure(targets)
        print(
            f"{row['targets']:>7.0f} {row['requests']:>12.0f} {row['recorded']:>8.0f} {row['listing']:>7.0f}"
            f" {row['per_target']:>10.1f} {row['seconds']:>6.2f} {duration(row['paced']):>9}"
            f" {row['mean_rps']:>10.2f} {row['peak_rps']:>9.2f} {row['expected_hours']:>10.1f}"
        )


def duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


if __name__ == "__main__":
    main()
