"""The campaign's pure decisions: waves, slots held by paused targets, tolerance, canary, pause and abort."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rds_maint.campaign import schedule
from rds_maint.campaign_model import (
    Campaign,
    CampaignRequest,
    CampaignState,
    CampaignTarget,
    FailureTolerance,
    TargetState,
    target_operation_id,
)
from rds_maint.errors import BadInput
from rds_maint.model import OperationType

NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


def make(targets: int, **asked: object) -> Campaign:
    request = CampaignRequest.model_validate(
        {
            "type": OperationType.INSTANCE_CYCLE,
            "target_ids": [f"db-{i}" for i in range(targets)],
            "region": "us-east-1",
            **asked,
        }
    )
    waves = schedule.wave_of_each(targets, request.canary, request.wave_size)
    return Campaign(
        id="c-1",
        request=request,
        targets=[
            CampaignTarget(index=i, target_id=f"db-{i}", wave=w, operation_id=target_operation_id("c-1", i), params={})
            for i, w in enumerate(waves)
        ],
        created_at=NOW,
        updated_at=NOW,
    )


def state(c: Campaign) -> CampaignState:
    """The state now (a function, so that the type checker does not keep an earlier assert's narrowing)."""
    return c.state


def start_all(c: Campaign) -> list[str]:
    started = schedule.next_starts(c)
    for t in started:
        schedule.mark_started(c, t, NOW)
    return [t.target_id for t in started]


def end(c: Campaign, target_id: str, state: str) -> None:
    schedule.observe(c, c.target(target_id), state, None, NOW)
    schedule.settle(c, NOW)


def test_waves_are_a_canary_then_groups_of_the_wave_size() -> None:
    assert schedule.wave_of_each(7, 1, 3) == [0, 1, 1, 1, 2, 2, 2]
    assert schedule.wave_of_each(4, 1, None) == [0, 1, 1, 1]
    assert schedule.wave_of_each(3, 0, None) == [0, 0, 0]
    assert schedule.wave_of_each(1, 1, None) == [0]


def test_the_canary_runs_alone_then_the_rest_up_to_the_concurrency_paused_ones_holding_their_slot() -> None:
    c = make(6, max_concurrency=3)
    assert start_all(c) == ["db-0"]
    assert start_all(c) == []
    end(c, "db-0", "completed")
    assert start_all(c) == ["db-1", "db-2", "db-3"]
    schedule.observe(c, c.target("db-1"), "paused", "lasting error", NOW)
    end(c, "db-2", "completed")
    assert start_all(c) == ["db-4"]  # db-1 paused still holds its slot; the others go on
    end(c, "db-3", "completed")
    end(c, "db-4", "completed")
    assert start_all(c) == ["db-5"]
    end(c, "db-5", "completed")
    assert state(c) is CampaignState.RUNNING  # db-1 is still paused
    end(c, "db-1", "completed")
    assert state(c) is CampaignState.COMPLETED
    assert c.counts()["completed"] == 6


def test_a_failed_canary_halts_and_the_campaign_fails_with_the_rest_skipped() -> None:
    c = make(4, max_concurrency=2, failure_tolerance=FailureTolerance(count=5))
    start_all(c)
    end(c, "db-0", "failed")
    assert state(c) is CampaignState.FAILED
    assert [t.state for t in c.targets[1:]] == [TargetState.SKIPPED] * 3


def test_past_the_tolerance_no_new_target_starts_and_running_ones_finish() -> None:
    c = make(10, max_concurrency=3, canary=0, failure_tolerance=FailureTolerance.parse("10%"))
    assert start_all(c) == ["db-0", "db-1", "db-2"]
    end(c, "db-0", "failed")  # 1 of 10 is within 10 %
    assert start_all(c) == ["db-3"]
    end(c, "db-1", "failed")
    assert state(c) is CampaignState.HALTED
    assert start_all(c) == []
    end(c, "db-2", "completed")
    end(c, "db-3", "completed")
    assert state(c) is CampaignState.FAILED
    assert c.counts() == {
        "pending": 0,
        "refused": 0,
        "skipped": 6,
        "running": 0,
        "completed": 2,
        "failed": 2,
        "rolled_back": 0,
    }


def test_a_halted_campaign_goes_on_only_with_a_tolerance_that_allows_its_failures() -> None:
    c = make(5, max_concurrency=1, canary=0)
    start_all(c)
    end(c, "db-0", "failed")
    assert state(c) is CampaignState.FAILED  # nothing else was running
    c = make(5, max_concurrency=2, canary=0)
    start_all(c)
    end(c, "db-0", "failed")
    assert state(c) is CampaignState.HALTED
    with pytest.raises(BadInput, match="does not allow"):
        schedule.resume(c, "me", NOW, tolerance=FailureTolerance(count=0))
    schedule.resume(c, "me", NOW, tolerance=FailureTolerance(count=1))
    assert state(c) is CampaignState.RUNNING
    assert start_all(c) == ["db-2"]


def test_waves_wait_for_approval_when_asked_and_pause_abort_stop_new_starts() -> None:
    c = make(5, max_concurrency=5, wave_size=2, approve_waves=True)
    assert start_all(c) == ["db-0"]
    end(c, "db-0", "completed")
    assert state(c) is CampaignState.AWAITING_APPROVAL
    assert start_all(c) == []
    schedule.resume(c, "sre", NOW)
    assert start_all(c) == ["db-1", "db-2"]
    schedule.pause(c, "sre", NOW)
    end(c, "db-1", "completed")
    end(c, "db-2", "completed")
    assert state(c) is CampaignState.PAUSED
    assert start_all(c) == []
    schedule.resume(c, "sre", NOW)
    assert state(c) is CampaignState.RUNNING
    schedule.settle(c, NOW)
    assert state(c) is CampaignState.AWAITING_APPROVAL  # wave 2 needs its own approval
    schedule.resume(c, "sre", NOW)
    assert start_all(c) == ["db-3", "db-4"]
    schedule.abort(c, "sre", NOW)
    assert state(c) is CampaignState.ABORTING
    end(c, "db-3", "completed")
    end(c, "db-4", "rolled_back")
    assert state(c) is CampaignState.ABORTED
    with pytest.raises(BadInput, match="has ended"):
        schedule.resume(c, "sre", NOW)


def test_failure_tolerance_text_is_a_count_or_a_percent() -> None:
    assert FailureTolerance.parse("3").allowed(50) == 3
    assert FailureTolerance.parse("10%").allowed(15) == 1
    with pytest.raises(ValueError, match="whole number"):
        FailureTolerance.parse("ten")
    with pytest.raises(ValueError):
        FailureTolerance.parse("120%")
