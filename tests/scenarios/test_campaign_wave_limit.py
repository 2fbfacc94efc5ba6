"""A wave the campaign state machine cannot carry in its state is refused before anything starts.

The Map's items come from the state (ItemsPath), whose data Step Functions caps at 256 KiB
(States.DataLimitExceeded), so `campaign start-execution` refuses, with the wave size that fits, a campaign
whose largest wave's items pass `WAVE_ITEMS_LIMIT_BYTES`; `campaign run` drives any size in a terminal.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rds_maint.campaign.machine_steps import WAVE_ITEMS_LIMIT_BYTES, wave_too_large
from rds_maint.campaign_model import Campaign, CampaignRequest, CampaignTarget, target_operation_id
from rds_maint.model import OperationType
from tests.helpers.world import REGION, World

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
LONG_ID = "c-" + "x" * 60  # campaign ids go up to 64 characters


def campaign_of(targets: int, wave_size: int | None = None, campaign_id: str = LONG_ID) -> Campaign:
    request = CampaignRequest(
        type=OperationType.INSTANCE_CYCLE,
        target_ids=[f"orders-analytics-replica-cluster-{n:05d}" for n in range(targets)],
        region=REGION,
        max_concurrency=10,
        canary=0,
        wave_size=wave_size,
    )
    assert request.target_ids is not None
    return Campaign(
        id=campaign_id,
        request=request,
        targets=[
            CampaignTarget(
                index=i,
                target_id=t,
                wave=i // wave_size if wave_size else 0,
                operation_id=target_operation_id(campaign_id, i),
                params={},
            )
            for i, t in enumerate(request.target_ids)
        ],
        created_at=NOW,
        updated_at=NOW,
    )


def test_a_wave_whose_items_pass_the_limit_is_refused_with_a_wave_size_that_fits() -> None:
    refusal = wave_too_large(campaign_of(1500))
    assert refusal is not None
    assert "wave 0 of campaign" in refusal and "1500 targets" in refusal and "256 KiB" in refusal
    fits = int(refusal.split("--wave-size ")[1].split()[0])
    assert 100 < fits < 1500
    assert wave_too_large(campaign_of(1500, wave_size=fits)) is None, "the size it names does fit"
    assert wave_too_large(campaign_of(1500, wave_size=fits + 200)) is not None


def test_waves_of_ordinary_size_fit() -> None:
    assert wave_too_large(campaign_of(600)) is None
    assert WAVE_ITEMS_LIMIT_BYTES < 256 * 1024


def test_start_execution_of_a_stored_campaign_too_large_for_the_machine_starts_nothing(world: World) -> None:
    big = world.store.create_campaign(campaign_of(2500, campaign_id="c-big"))
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:rds-maint-campaign"
    result = world.cli(
        ["campaign", "start-execution", big.id, "--state-machine-arn", machine, "--store", world.store_url]
    )
    assert result.exit_code == 2, result.output
    assert "wave 0 of campaign c-big has 2500 targets" in result.output and "--wave-size" in result.output
    assert world.store.load_campaign("c-big").version == big.version
    assert world.store.load_campaign("c-big").execution_arn is None
