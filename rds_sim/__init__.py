"""A simulated Amazon Aurora for tests and `make demo`: moto's resources, Aurora's timing.

Typical use, inside `moto.mock_aws()` (`clients` wraps the code under test's RDS client factory so
that the simulator attaches to each client it makes)::

    clock = VirtualClock()
    with SimulatedAurora(clock=clock, region="us-east-1") as sim:
        sim.seed_cluster("prod-pg", engine="aurora-postgresql", engine_version="15.4")
        client = sim.clients(make_rds_client)("us-east-1")   # answered by the simulator
        ...
        clock.sleep(600)                        # ten minutes of Aurora time, instantly

Modules: `clock` (virtual time), `catalogue` (versions and orderable classes), `faults`
(throttling, lost responses, crashes, stuck instances), `timeline` (durations and transitions),
`world` (Aurora's behaviour over moto), `world_protocol` (what the area simulators need of it),
`wire` (botocore hooks), `aurora` (the facade); for engine upgrades `blue_green` (deployments,
switchover, old-cluster deletion), `proxies` (RDS Proxy targets), `parameter_groups` (families,
defaults, `Source`) and `maintenance` (pending maintenance actions).

It imports nothing from `rds_maint` (import-linter checks it in `make lint`): it models AWS, not
the code it serves. The Step Functions harness that runs rds-maint's own machine on it is
`sfn_harness`, outside both packages.
"""

from rds_sim.aurora import SimulatedAurora
from rds_sim.catalogue import Catalogue, UpgradeTarget
from rds_sim.clock import VirtualClock
from rds_sim.errors import SimulatedCrash
from rds_sim.faults import Faults
from rds_sim.timeline import Durations, Transition
from rds_sim.views import ClusterView, MemberView, SimCall
from rds_sim.world import valid_identifier

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
    "valid_identifier",
]
