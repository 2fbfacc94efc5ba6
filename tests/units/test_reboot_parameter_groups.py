"""A member whose reboot is owed to the cluster parameter group alone (the usual case on AWS: a static parameter
of the cluster group changed, the instance group untouched): the reboot step reads that group's status once the
member is back, and only then; a member owed to its instance group alone never reads the whole cluster again."""

from __future__ import annotations

from rds_maint.model import Outcome
from tests.helpers.fake_rds import PENDING_REBOOT, READER_2, FakeWorld


def _cycle_only_pending(world: FakeWorld) -> str:
    op = world.create({"only_pending_reboot": True}, type="instance_cycle")
    return op.id


def test_a_member_pending_through_the_cluster_group_ends_in_sync_after_one_reboot(world: FakeWorld) -> None:
    world.rds.instances[READER_2].cluster_parameter_status = PENDING_REBOOT
    op_id = _cycle_only_pending(world)
    result = world.run(op_id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert [c["instance_id"] for c in world.rds.changes_of("reboot_instance")] == [READER_2]
    [step] = [s for s in world.op(op_id).steps if s.action == "reboot_instance"]
    assert step.result["cluster_pending"] is True and step.result["was_pending"] is True
    assert step.result["parameter_status"] == ["in-sync", "in-sync"]  # the instance group's and the cluster's


def test_a_member_pending_through_its_instance_group_is_judged_from_its_own_description(world: FakeWorld) -> None:
    world.rds.instances[READER_2].parameter_apply_status = PENDING_REBOOT
    op_id = _cycle_only_pending(world)
    before = world.rds.calls["describe_cluster"]
    result = world.run(op_id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    [step] = [s for s in world.op(op_id).steps if s.action == "reboot_instance"]
    assert step.result["cluster_pending"] is False and step.result["parameter_status"] == ["in-sync"]
    # check_cluster, the reboot's mark, restore_promotion_tiers and verify: one whole-cluster read each
    assert world.rds.calls["describe_cluster"] - before == 4
