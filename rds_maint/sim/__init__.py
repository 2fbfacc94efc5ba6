"""A simulated Amazon Aurora for tests and `make demo`: moto's resources, Aurora's timing.

Typical use, inside `moto.mock_aws()`::

    clock = VirtualClock()
    with SimulatedAurora(clock=clock, region="us-east-1") as sim:
        sim.seed_cluster("prod-pg", engine="aurora-postgresql", engine_version="15.4")
        client = make_rds_client("us-east-1")   # answered by the simulator
        ...
        clock.sleep(600)                        # ten minutes of Aurora time, instantly

Modules: `clock` (virtual time), `catalogue` (versions and orderable classes), `faults`
(throttling, lost responses, crashes, stuck instances), `timeline` (durations and transitions),
`world` (Aurora's behaviour over moto), `wire` (botocore hooks), `aurora` (the facade); for engine
upgrades `blue_green` (deployments, switchover, old-cluster deletion), `proxies` (RDS Proxy targets),
`parameter_groups` (families, defaults, `Source`) and `maintenance` (pending maintenance actions).
"""

from rds_maint.sim.aurora import SimulatedAurora
from rds_maint.sim.catalogue import Catalogue, UpgradeTarget
from rds_maint.sim.clock import VirtualClock
from rds_maint.sim.errors import SimulatedCrash
from rds_maint.sim.faults import Faults
from rds_maint.sim.timeline import Durations, Transition
from rds_maint.sim.views import ClusterView, MemberView, SimCall

__all__ = [
    "Catalogue",
    "ClusterView",
    "Durations",
    "Faults",
    "MemberView",
    "SimCall",
    "SimulatedAurora",
    "SimulatedCrash",
    "Transition",
    "UpgradeTarget",
    "VirtualClock",
]
