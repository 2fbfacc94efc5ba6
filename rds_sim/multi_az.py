"""RDS Multi-AZ DB clusters (MySQL, PostgreSQL; not Aurora): the cluster sizes and stores its members.

`world.AuroraWorld` hands this module the calls on a Multi-AZ DB cluster (`owns_cluster`) or on one of
its members (`owns_instance`): ModifyDBCluster, RebootDBCluster, RebootDBInstance, FailoverDBCluster,
ModifyDBInstance (refused: "You can't modify the DB instances within a Multi-AZ DB cluster ... The only
operation you can perform on a DB instance within a Multi-AZ DB cluster is rebooting it", RDS user guide,
"Modifying a Multi-AZ DB cluster"), and the overlays of the describes.

Every accepted change is a `multi_az_changes.MultiAzChange` on the virtual clock (see that module for the
phases and their sources); while one is under way (its quiet moment included) the cluster refuses
another change, as AWS refuses changes to a cluster that is not `available` (harsher when unknown).
Events go to the world's DescribeEvents list, as the Aurora transitions' do.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from rds_sim import multi_az_reference, reference
from rds_sim.errors import ApiError, cluster_state, instance_state
from rds_sim.multi_az_changes import DURATIONS, MultiAzChange, MultiAzPhase, plan_change
from rds_sim.paging import page
from rds_sim.world_protocol import World

__all__ = ["MULTI_AZ_STORAGE_TYPES", "MultiAzClusterSim"]

Response = dict[str, Any]
MULTI_AZ_STORAGE_TYPES = ("io1", "io2", "gp3")  # ModifyDBCluster StorageType, botocore model
# The ModifyDBCluster keys this module models; others go to moto unchanged.
_MODELLED = ("DBClusterInstanceClass", "StorageType", "Iops", "AllocatedStorage", "EngineVersion")
ACCOUNT = "123456789012"
_ALL_ROWS = 100_000  # one page holding every row, paged again after merging


class MultiAzClusterSim:
    def __init__(self, world: World) -> None:
        self.world = world
        self.changes: list[MultiAzChange] = []
        # After a storage change the members optimize their storage; another storage change is refused
        # until then (AWS's rule for DB instances, "storage-optimization"; assumed for the cluster's members).
        self._optimizing_until: dict[str, datetime] = {}

    # -- routing ---------------------------------------------------------------------------------------

    def handlers(self) -> dict[str, Any]:
        """API calls this module answers whole: RebootDBCluster (moto lacks it), and the reference answers
        for the Multi-AZ DB cluster engines (the Aurora catalogue answers the Aurora engines)."""
        return {
            "RebootDBCluster": self.reboot_db_cluster,
            "DescribeOrderableDBInstanceOptions": self.describe_orderable,
            "DescribeDBEngineVersions": self.describe_engine_versions,
        }

    def _zones(self) -> list[str]:
        return [f"{self.world.moto.region}{s}" for s in "abc"]

    def describe_orderable(self, params: dict[str, Any]) -> Response:
        """The Aurora catalogue's rows (unchanged for Aurora engines); for mysql and postgres, its rows (if the
        catalogue knows them) with `SupportsClusters` set on the Multi-AZ DB cluster classes, plus this module's
        rows for the classes it lacks."""
        engine = str(params.get("Engine", ""))
        if engine not in multi_az_reference.MULTI_AZ_ENGINES:
            return reference.describe_orderable_db_instance_options(self.world.catalogue, params, self._zones())
        whole = {k: v for k, v in params.items() if k not in ("Marker", "MaxRecords")}
        key = "OrderableDBInstanceOptions"
        base = reference.describe_orderable_db_instance_options(
            self.world.catalogue, {**whole, "MaxRecords": _ALL_ROWS}, self._zones()
        )[key]
        for row in base:
            if multi_az_reference.is_cluster_class(str(row.get("DBInstanceClass"))):
                row["SupportsClusters"] = True
        known = {(r.get("EngineVersion"), r.get("DBInstanceClass"), r.get("StorageType")) for r in base}
        ours = multi_az_reference.describe_orderable({**whole, "MaxRecords": _ALL_ROWS}, self._zones())[key]
        extra = [r for r in ours if (r["EngineVersion"], r["DBInstanceClass"], r["StorageType"]) not in known]
        return page(base + extra, params, key)

    def describe_engine_versions(self, params: dict[str, Any]) -> Response:
        """The Aurora catalogue's answer; for mysql and postgres, this module's when the catalogue knows none."""
        answer = reference.describe_db_engine_versions(self.world.catalogue, params)
        engine = str(params.get("Engine", ""))
        if engine in multi_az_reference.MULTI_AZ_ENGINES and not answer.get("DBEngineVersions"):
            return multi_az_reference.describe_engine_versions(params)
        return answer

    def owns_cluster(self, cluster_id: str) -> bool:
        data = self.world.moto.cluster(cluster_id)
        return data is not None and self.owns_cluster_data(data)

    def owns_instance(self, instance_id: str) -> bool:
        data = self.world.moto.instance(instance_id)
        return data is not None and self.owns_member_data(data)

    @staticmethod
    def owns_cluster_data(data: dict[str, Any]) -> bool:
        """A Multi-AZ DB cluster, from its own description: a cluster class and an engine that is not Aurora."""
        return bool(data.get("DBClusterInstanceClass")) and not str(data.get("Engine", "")).startswith("aurora")

    @staticmethod
    def owns_member_data(data: dict[str, Any]) -> bool:
        """A member of a Multi-AZ DB cluster, from its own description: in a cluster, with an engine that is not
        Aurora (the only clusters of RDS engines are Multi-AZ DB clusters)."""
        return bool(data.get("DBClusterIdentifier")) and not str(data.get("Engine", "")).startswith("aurora")

    # -- calls -----------------------------------------------------------------------------------------

    def modify_db_cluster(self, params: dict[str, Any]) -> Response:
        cluster_id = str(params["DBClusterIdentifier"])
        cluster = self._cluster(cluster_id)
        modelled = {k: params[k] for k in _MODELLED if params.get(k) is not None}
        changed = {k: v for k, v in modelled.items() if cluster.get(k) != v}
        if modelled:
            self._refuse_if_busy(cluster_id)
            self._validate(cluster, modelled, params)
        skip = (*_MODELLED, "AllowMajorVersionUpgrade", "DBClusterIdentifier", "ApplyImmediately")
        extra = {k: v for k, v in params.items() if k not in skip}
        if not modelled:
            self.world.moto.call("ModifyDBCluster", params)
        elif extra:
            self.world.moto.call(
                "ModifyDBCluster", {"DBClusterIdentifier": cluster_id, "ApplyImmediately": True, **extra}
            )
        if changed:
            self.changes.append(plan_change(self.world, cluster, changed, self.world.now()))
        return {"DBCluster": self.world.overlay_cluster(self._cluster(cluster_id))}

    def modify_db_instance(self, params: dict[str, Any]) -> Response:
        instance_id = str(params["DBInstanceIdentifier"])
        raise ApiError(
            "InvalidParameterCombination",
            f"You can't modify the DB instance {instance_id} within a Multi-AZ DB cluster. Modify the DB cluster.",
        )

    def reboot_db_instance(self, params: dict[str, Any]) -> Response:
        """A member's reboot: that member restarts, and no failover happens (AWS documents none for a member;
        the harsher answer: a rebooted writer stops writes for the whole reboot)."""
        instance_id = str(params["DBInstanceIdentifier"])
        if params.get("ForceFailover"):
            raise ApiError(
                "InvalidParameterCombination",
                "ForceFailover applies to Multi-AZ DB instances only; use FailoverDBCluster for a Multi-AZ DB cluster",
            )
        member = self._member(instance_id)
        cluster_id = str(member["DBClusterIdentifier"])
        if self._busy(cluster_id):
            raise instance_state(f"DB instance {instance_id} is not in available state.")
        now = self.world.now()
        visible = now + timedelta(seconds=DURATIONS.reboot_lag)
        end = visible + timedelta(seconds=DURATIONS.member_reboot)
        self.changes.append(
            MultiAzChange(
                cluster_id=cluster_id,
                kind="reboot_member",
                called_at=now,
                visible_at=visible,
                ends_at=end,
                cluster_status="available",
                phases=[MultiAzPhase(visible, end, "reboot", instance_id, "rebooting")],
            )
        )
        return {"DBInstance": self.overlay_instance(self._member(instance_id))}

    def reboot_db_cluster(self, params: dict[str, Any]) -> Response:
        """RebootDBCluster: every member restarts at once; "a momentary outage, during which the DB cluster
        status is set to rebooting" (API reference)."""
        cluster_id = str(params.get("DBClusterIdentifier", ""))
        data = self.world.moto.cluster(cluster_id)
        if data is None:
            raise ApiError("DBClusterNotFoundFault", f"DBCluster {cluster_id} not found.", 404)
        if not self.owns_cluster(cluster_id):
            raise ApiError("InvalidParameterValue", "RebootDBCluster applies only to a non-Aurora Multi-AZ DB cluster")
        self._refuse_if_busy(cluster_id)
        now = self.world.now()
        visible = now + timedelta(seconds=DURATIONS.reboot_lag)
        end = visible + timedelta(seconds=DURATIONS.cluster_reboot)
        members = sorted(self.world.moto.cluster_instances(cluster_id))
        self.changes.append(
            MultiAzChange(
                cluster_id=cluster_id,
                kind="reboot_cluster",
                called_at=now,
                visible_at=visible,
                ends_at=end,
                cluster_status="rebooting",
                phases=[MultiAzPhase(visible, end, "reboot", m, "rebooting") for m in members],
            )
        )
        return {"DBCluster": self.world.overlay_cluster(self._cluster(cluster_id))}

    def failover_db_cluster(self, params: dict[str, Any]) -> Response:
        """To a readable standby; "Failover times are typically less than 35 seconds" (API reference)."""
        cluster_id = str(params["DBClusterIdentifier"])
        self._refuse_if_busy(cluster_id)
        target = params.get("TargetDBInstanceIdentifier")
        members = self.world.moto.cluster_instances(cluster_id)
        writer = self.world.moto.writer(cluster_id)
        if target is None:
            target = next((m for m in sorted(members) if m != writer), None)
        if target not in members:
            raise ApiError("InvalidParameterValue", f"{target} is not a member of DB cluster {cluster_id}")
        if target == writer:
            raise ApiError("InvalidParameterCombination", f"{target} is already the writer of {cluster_id}")
        now = self.world.now()
        visible = now + timedelta(seconds=DURATIONS.failover_lag)
        end = visible + timedelta(seconds=DURATIONS.failover)
        self.changes.append(
            MultiAzChange(
                cluster_id=cluster_id,
                kind="failover",
                called_at=now,
                visible_at=visible,
                ends_at=end,
                cluster_status="failing-over",
                phases=[MultiAzPhase(visible, end, "failover", str(target), "available")],
            )
        )
        return {"DBCluster": self.world.overlay_cluster(self._cluster(cluster_id))}

    # -- validation (ModifyDBCluster reference; harsher where AWS does not say) ------------------------

    def _validate(self, cluster: dict[str, Any], modelled: dict[str, Any], params: dict[str, Any]) -> None:
        engine, version = str(cluster["Engine"]), str(cluster["EngineVersion"])
        storage_type = modelled.get("StorageType")
        if storage_type is not None and storage_type not in MULTI_AZ_STORAGE_TYPES:
            raise ApiError(
                "InvalidParameterValue",
                f"Invalid storage type for a Multi-AZ DB cluster: {storage_type}. Valid: io1, io2, gp3",
            )
        if storage_type is not None and "Iops" not in modelled:
            # "When specified for a Multi-AZ DB cluster, a value for the Iops parameter is required."
            raise ApiError("InvalidParameterCombination", "Iops is required when StorageType is specified")
        size = int(modelled.get("AllocatedStorage") or cluster.get("AllocatedStorage") or 0)
        current_size = int(cluster.get("AllocatedStorage") or 0)
        if "AllocatedStorage" in modelled:
            if size < current_size:
                raise ApiError("InvalidParameterValue", "Allocated storage cannot be reduced")
            if current_size < size and size * 10 < current_size * 11:
                raise ApiError("InvalidParameterValue", "Allocated storage must be increased by at least 10 percent")
        if ("StorageType" in modelled or "AllocatedStorage" in modelled) and self._optimizing(
            str(cluster["DBClusterIdentifier"])
        ):
            raise cluster_state(
                "You can't make a storage modification: the cluster's storage is being optimized "
                "(storage-optimization); try again later"
            )
        iops = modelled.get("Iops", cluster.get("Iops"))
        if iops is not None and size and not 0.5 <= int(iops) / size <= 50:
            raise ApiError(
                "InvalidParameterCombination",
                f"Iops {iops} must be between 0.5 and 50 times the allocated storage ({size} GiB)",
            )
        instance_class = modelled.get("DBClusterInstanceClass")
        if instance_class is not None and not multi_az_reference.is_cluster_class(str(instance_class)):
            raise ApiError(
                "InvalidParameterCombination",
                f"RDS does not support creating a DB cluster with the following combination: "
                f"DBClusterInstanceClass={instance_class}, Engine={engine}, EngineVersion={version}",
            )
        target = modelled.get("EngineVersion")
        if target is not None and target != version:
            targets = multi_az_reference.describe_engine_versions({"Engine": engine, "EngineVersion": version})
            valid = {t["EngineVersion"]: t for row in targets["DBEngineVersions"] for t in row["ValidUpgradeTarget"]}
            if target not in valid:
                raise ApiError("InvalidParameterCombination", f"Cannot upgrade {engine} from {version} to {target}")
            if valid[target]["IsMajorVersionUpgrade"] and not params.get("AllowMajorVersionUpgrade"):
                raise ApiError(
                    "InvalidParameterCombination",
                    "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version.",
                )

    # -- what a caller sees --------------------------------------------------------------------------

    def _open(self, cluster_id: str) -> list[MultiAzChange]:
        return [c for c in self.changes if c.cluster_id == cluster_id and not c.ended]

    def _busy(self, cluster_id: str) -> bool:
        return bool(self._open(cluster_id))

    def _optimizing(self, cluster_id: str) -> bool:
        until = self._optimizing_until.get(cluster_id)
        return until is not None and self.world.now() < until

    def _refuse_if_busy(self, cluster_id: str) -> None:
        if self._busy(cluster_id):
            raise cluster_state(f"DB cluster {cluster_id} is not in available state.")

    def overlay_cluster(self, data: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(data)
        cluster_id = str(out["DBClusterIdentifier"])
        now = self.world.now()
        pending: dict[str, Any] = {}
        for change in self._open(cluster_id):
            if now < change.visible_at:
                continue  # accepted, not showing yet
            out["Status"] = change.status_at(now)
            pending.update({k: v for k, v in change.params.items() if k != "DBClusterInstanceClass"})
        if pending:
            out["PendingModifiedValues"] = pending
        else:
            out.pop("PendingModifiedValues", None)
        return out

    def overlay_instance(self, data: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(data)
        instance_id = str(out["DBInstanceIdentifier"])
        cluster_id = str(out.get("DBClusterIdentifier"))
        now = self.world.now()
        for change in self._open(cluster_id):
            status = change.member_status(instance_id, now)
            if status:
                out["DBInstanceStatus"] = status
        if out.get("DBInstanceStatus") == "available" and self._optimizing(cluster_id):
            out["DBInstanceStatus"] = "storage-optimization"
        out.setdefault("PendingModifiedValues", {})
        return out

    # -- settling ------------------------------------------------------------------------------------

    def settle(self) -> None:
        """Apply every phase and change due by now, oldest first, with their events."""
        now = self.world.clock.now()
        for change in sorted(self.changes, key=lambda c: c.called_at):
            if change.ended:
                continue
            if not change.started and change.visible_at <= now:
                change.started = True
                self._event("db-cluster", change.cluster_id, change.start_message(), change.visible_at)
            for phase in change.phases:
                if not phase.started and phase.start <= now:
                    phase.started = True
                    self._phase_event(change, phase, begin=True)
                if phase.started and not phase.ended and phase.end <= now:
                    phase.ended = True
                    self._end_phase(change, phase)
                    self._phase_event(change, phase, begin=False)
            if change.ends_at <= now:
                change.ended = True
                self._end_change(change)

    def _end_phase(self, change: MultiAzChange, phase: MultiAzPhase) -> None:
        if phase.kind == "failover" and phase.member:
            members = self.world.moto.cluster_instances(change.cluster_id)
            if phase.member in members and self.world.moto.writer(change.cluster_id) != phase.member:
                self.world.moto.call(
                    "FailoverDBCluster",
                    {"DBClusterIdentifier": change.cluster_id, "TargetDBInstanceIdentifier": phase.member},
                )
        elif phase.kind == "modify" and phase.member and "DBClusterInstanceClass" in change.params:
            self.world.moto.call(
                "ModifyDBInstance",
                {
                    "DBInstanceIdentifier": phase.member,
                    "DBInstanceClass": change.params["DBClusterInstanceClass"],
                    "ApplyImmediately": True,
                },
            )
        elif phase.kind == "reboot" and phase.member:
            self.world.set_parameter_apply_status(phase.member, "in-sync")

    def _end_change(self, change: MultiAzChange) -> None:
        if change.kind != "modify":
            if change.kind != "reboot_member":
                self._event("db-cluster", change.cluster_id, change.end_message(), change.ends_at)
            return
        self.world.moto.call(
            "ModifyDBCluster",
            {"DBClusterIdentifier": change.cluster_id, "ApplyImmediately": True, **change.params},
        )
        if "StorageType" in change.params or "AllocatedStorage" in change.params:
            self._optimizing_until[change.cluster_id] = change.ends_at + timedelta(
                seconds=DURATIONS.storage_optimization
            )
        self._event("db-cluster", change.cluster_id, change.end_message(), change.ends_at)

    def _phase_event(self, change: MultiAzChange, phase: MultiAzPhase, *, begin: bool) -> None:
        at = phase.start if begin else phase.end
        if phase.kind == "reboot" and phase.member:
            # RDS-EVENT-0004 "DB instance shutdown." and RDS-EVENT-0006 "DB instance restarted." (RDS user guide,
            # "Amazon RDS event categories and event messages", availability), as for any DB instance.
            self._event("db-instance", phase.member, "DB instance shutdown" if begin else "DB instance restarted", at)
        elif phase.kind == "failover" and phase.member:
            text = "Started cross AZ failover to DB instance" if begin else "Completed failover to DB instance"
            self._event("db-cluster", change.cluster_id, f"{text}: {phase.member}", at)
        elif phase.kind == "modify" and phase.member:
            text = "Applying modification to" if begin else "Finished applying modification to"
            self._event("db-instance", phase.member, f"{text} {change.what()}", at)

    def _event(self, source_type: str, source_id: str, message: str, at: datetime) -> None:
        """Into the world's DescribeEvents list (world.AuroraWorld._events), shaped as the world's own."""
        events: list[dict[str, Any]] = getattr(self.world, "_events")  # noqa: B009 - the world's event log
        kind = "db" if source_type == "db-instance" else "cluster"
        events.append(
            {
                "SourceIdentifier": source_id,
                "SourceType": source_type,
                "Message": message,
                "EventCategories": [
                    "availability" if "restart" in message or "shutdown" in message else "notification"
                ],
                "Date": at,
                "SourceArn": f"arn:aws:rds:{self.world.moto.region}:{ACCOUNT}:{kind}:{source_id}",
            }
        )

    def _member(self, instance_id: str) -> dict[str, Any]:
        data = self.world.moto.instance(instance_id)
        if data is None:
            raise KeyError(instance_id)
        return copy.deepcopy(data)

    def _cluster(self, cluster_id: str) -> dict[str, Any]:
        data = self.world.moto.cluster(cluster_id)
        if data is None:
            raise KeyError(cluster_id)
        return data
