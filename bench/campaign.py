"""A campaign driven in one process (`rds-maint campaign run`) on the simulated Aurora: time and request rate.

Plain script, no assertions: it prints a table (and writes it to docs/campaign-bench.md with --write).
An instance_cycle over 50 Aurora PostgreSQL clusters of one reader each (10 with --quick), canary 1, at
concurrency 5 and 10, under the default request budget (2 req/s), driven by `campaign.local.drive_campaign`
as the CLI does, on the virtual clock (the simulator's realistic durations).

- wall: the campaign's simulated time, from its first start to its end;
- bound: the longest single operation of the campaign x ceil(N / concurrency), what N operations take in
  slots of `concurrency` if each took as long as the longest and none waited for another (the canary runs
  alone, so a campaign is about one operation over it);
- mean and peak RDS requests per second (peak: over the budget's 60 s sliding window) against the budget;
- CPU: the process's CPU seconds for the whole drive (the simulator and moto included).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime

from moto import mock_aws

from rds_maint import wiring
from rds_maint.campaign import planner
from rds_maint.campaign.local import drive_campaign
from rds_maint.campaign_model import CampaignRequest, CampaignState
from rds_maint.config import Settings
from rds_maint.rds import make_rds_client
from rds_maint.store import open_store
from rds_sim import SimulatedAurora, VirtualClock

REGION = "us-east-1"
# Where the sections this script does not write begin in docs/campaign-bench.md.
OTHER_SECTIONS = "## Planning a campaign"
CLUSTERS = 50
QUICK_CLUSTERS = 10
CONCURRENCY = (5, 10)
BUDGET = 2.0


@dataclass(frozen=True)
class Row:
    clusters: int
    concurrency: int
    state: str
    wall: float
    longest: float
    requests: int
    mean_rps: float
    peak_rps: float
    look_floor: int
    cpu: float

    @property
    def bound(self) -> float:
        return self.longest * math.ceil(self.clusters / self.concurrency)

    @property
    def canary_bound(self) -> float:
        """The bound with the canary's round alone first: 1 + ceil((N - 1) / concurrency) rounds."""
        return self.longest * (1 + math.ceil((self.clusters - 1) / self.concurrency))


def measure(clusters: int, concurrency: int) -> Row:
    with mock_aws(), tempfile.TemporaryDirectory() as directory:
        clock = VirtualClock()
        with SimulatedAurora(clock=clock, region=REGION) as sim:
            ids = [f"bench-{n:02d}" for n in range(clusters)]
            for cluster in ids:
                sim.seed_cluster(cluster, readers=1)
            store_url = f"file://{directory}/state"
            store = open_store(store_url)
            engine = wiring.build_engine(
                Settings.from_env(store_url, REGION),
                clock=clock,
                client_factory=sim.clients(make_rds_client),
                store=store,
            )
            request = CampaignRequest(
                type="instance_cycle", target_ids=ids, region=REGION, max_concurrency=concurrency, budget_rps=BUDGET
            )
            plan = planner.plan_campaign(engine, request, "c-bench")
            store.create_campaign(planner.campaign_of(plan, clock.now()))
            cpu = time.process_time()
            outcome = drive_campaign(engine, "c-bench", clock.sleep, requests=lambda: wiring.aws_requests(engine))
            cpu = time.process_time() - cpu
            campaign = outcome.campaign
            operations = store.list_operations()
            spans = [(op.started_at, op.completed_at) for op in operations]
            starts = [s for s, _ in spans if s is not None]
            ends = [e for _, e in spans if e is not None]
            longest = max(((e - s).total_seconds() for s, e in spans if s is not None and e is not None), default=0.0)
            first: datetime = min(starts)
            return Row(
                clusters=clusters,
                concurrency=concurrency,
                state=campaign.state.value if campaign.state is not CampaignState.COMPLETED else "completed",
                wall=(max(ends) - first).total_seconds(),
                longest=longest,
                requests=campaign.rate.requests,
                mean_rps=campaign.rate.mean_rps,
                peak_rps=campaign.rate.peak_rps,
                look_floor=max(op.min_look_seconds for op in operations),
                cpu=cpu,
            )


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def render(rows: list[Row], flags: str) -> str:
    lines = [
        "# A campaign driven in one process",
        "",
        f"`bench/campaign.py{(' ' + flags) if flags else ''}` on the simulated Aurora (virtual clock, realistic "
        f"durations), Python {platform.python_version()}: instance_cycle over Aurora PostgreSQL clusters of one "
        f"reader, canary 1, request budget {BUDGET:g} req/s. Bound: the longest single operation x "
        "ceil(N / concurrency); with canary: (1 + ceil((N - 1) / concurrency)) rounds, the canary alone first.",
        "",
        "| clusters | concurrency | state | wall (simulated) | longest op | bound | wall / bound "
        "| bound with canary | wall / it | RDS requests | mean req/s | peak req/s (60 s) | budget | look floor | CPU |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.clusters} | {r.concurrency} | {r.state} | {_minutes(r.wall)} | {_minutes(r.longest)} "
            f"| {_minutes(r.bound)} | {r.wall / r.bound:.2f} | {_minutes(r.canary_bound)} "
            f"| {r.wall / r.canary_bound:.2f} | {r.requests} | {r.mean_rps:.2f} | {r.peak_rps:.2f} "
            f"| {BUDGET:g} | {r.look_floor} s | {r.cpu:.0f} s |"
        )
    lines += [
        "",
        "Wall against bound: the slots are kept full (a target starts as soon as one ends), so the campaign takes "
        "about the bound, less where operations were shorter than the longest. The peak over every 60 s stays "
        "within the budget (the driver waits for room before each call); the mean is far lower, because most of "
        "an instance_cycle is AWS's time (reboots, failovers), when each target is looked at no more often than "
        "its look floor (ceil(concurrency x 2 / budget) seconds).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CLUSTERS} clusters instead of {CLUSTERS}")
    parser.add_argument("--write", action="store_true", help="also write the table to docs/campaign-bench.md")
    args = parser.parse_args()
    os.environ.update({k: "testing" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")})
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    clusters = QUICK_CLUSTERS if args.quick else CLUSTERS
    rows = []
    for concurrency in CONCURRENCY:
        rows.append(measure(clusters, concurrency))
        print(f"  measured concurrency {concurrency}", file=sys.stderr)
    text = render(rows, "--quick" if args.quick else "")
    print(text)
    if args.write:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "campaign-bench.md")
        with open(path, encoding="utf-8") as handle:
            kept = handle.read()
        # the page's other sections (planning: bench/campaign_plan.py) stay as they are
        rest = kept[kept.index(OTHER_SECTIONS) :] if OTHER_SECTIONS in kept else ""
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text + ("\n" + rest if rest else ""))


if __name__ == "__main__":
    main()
