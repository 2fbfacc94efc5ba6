"""A person steers a campaign: pause, resume, abort, and the live view of its targets those need.

Each change is the schedule's (`rds_maint.campaign.schedule`) saved conditionally on the record's version
(a lost race reloads and decides again), then carried to the targets' operations through the engine, so
the CLI and the campaign state machine's Lambda steer alike. The record can lag its driver (a target's
operation may have paused or ended since it was last saved), so what is done to each target is decided
from its operation as the store has it now, never from the record alone.

Crash windows: the campaign's change is saved first, then each operation is changed one by one. A crash in
between leaves some operations unchanged; running the same command again finds the campaign already in the
state asked for, says so, and does the operations' part again (each part is idempotent: a pause asked
twice is asked once, an operation resumed already is running). Operations the campaign's pause paused are
told apart from those paused for their own reasons by the pause request's comment (`pause_comment`), which
the engine writes into the pause reason: it survives any crash because it is on the operation itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from rds_maint.campaign import schedule
from rds_maint.campaign_model import (
    FINAL_CAMPAIGN_STATES,
    Campaign,
    CampaignEvent,
    CampaignState,
    CampaignTarget,
    FailureTolerance,
    TargetState,
)
from rds_maint.engine import Engine
from rds_maint.engine.answer_options import answer_options
from rds_maint.errors import BadInput, Conflict, OperationNotFound
from rds_maint.model import Operation, OperationState, ResumeAction, StepResult
from rds_maint.store.summary import OperationSummary

__all__ = [
    "SAVE_ATTEMPTS",
    "ControlOutcome",
    "TargetNote",
    "TargetView",
    "abort_campaign",
    "answer_commands",
    "live_targets",
    "pause_campaign",
    "pause_comment",
    "paused_by_campaign",
    "refuse_final",
    "resume_campaign",
    "stop_commands",
]

SAVE_ATTEMPTS = 5

# Sends `continue` to the Step Functions execution that waits on a paused operation's answer; True once sent.
# Given by a caller that can reach Step Functions (the CLI); without it such an operation is only listed.
AnswerThroughExecution = Callable[[Operation], bool]


@dataclass(frozen=True)
class TargetView:
    """A target with its operation as the store has it now (None: no operation yet)."""

    target: CampaignTarget
    summary: OperationSummary | None
    # The whole operation, read only where a person needs more than the summary (a paused one: why, answers).
    operation: Operation | None = None

    @property
    def live_state(self) -> str | None:
        """The operation's state now, else the record's last sight of it."""
        return self.summary.state.value if self.summary is not None else self.target.operation_state

    @property
    def unfinished(self) -> bool:
        """An operation exists and has not ended: what a pause or an abort concerns."""
        return self.summary is not None and not self.summary.state.is_final


@dataclass(frozen=True)
class TargetNote:
    """What was done to (or is left for a person at) one target's operation, in words."""

    target_id: str
    operation_id: str
    done: bool  # True when this call changed the operation
    message: str
    # The commands a person runs for it, in order, when it needs them (answer a pause, stop it alone).
    commands: tuple[str, ...] = ()


@dataclass
class ControlOutcome:
    """What a pause, resume or abort came to: the campaign as saved and each target's part."""

    campaign: Campaign
    # The campaign's own event, None when it was already in the state asked for (nothing saved).
    event: CampaignEvent | None
    message: str
    notes: list[TargetNote] = field(default_factory=list)


def pause_comment(campaign_id: str) -> str:
    """The comment of the pause requests a campaign's pause makes: how `resume` finds them again."""
    return f"campaign {campaign_id} paused"


def paused_by_campaign(op: Operation, campaign_id: str) -> bool:
    """Paused at a step boundary because the campaign's pause asked it to (not for an error or a person)."""
    reason = op.pause_reason or ""
    return op.state is OperationState.PAUSED and reason.endswith(f" asked: {pause_comment(campaign_id)}")


def answer_commands(op: Operation) -> list[str]:
    """The answers a paused operation takes now, continue first; through its execution when one waits."""
    verb = "respond" if op.intervention is not None else "resume"
    options = sorted((o for o in answer_options(op) if o.allowed), key=lambda o: o.action is not ResumeAction.CONTINUE)
    return [
        f"rds-maint {verb} {op.id} --action {o.action.value}" + (" --confirm" if o.needs_confirmation else "")
        for o in options
    ]


def live_targets(engine: Engine, campaign: Campaign, *, load_paused: bool = True) -> list[TargetView]:
    """Every target with its operation's summary now: one listing of the store's summaries (a store lists
    summaries at the same cost filtered by target or not), each whole operation read only when paused."""
    ids = {t.operation_id for t in campaign.targets if t.state is not TargetState.REFUSED}
    by_id = {s.id: s for s in engine.store.summaries() if s.id in ids} if ids else {}
    views = []
    for target in campaign.targets:
        summary = by_id.get(target.operation_id)
        operation = None
        if load_paused and summary is not None and summary.state is OperationState.PAUSED:
            operation = engine.store.load(target.operation_id)
        views.append(TargetView(target, summary, operation))
    return views


def _change_campaign(
    engine: Engine, campaign_id: str, decide: Callable[[Campaign, datetime], CampaignEvent | None]
) -> tuple[Campaign, CampaignEvent | None]:
    """Load, decide, save conditionally; a lost race decides again on the winner's record. `decide`
    returning None saves nothing (already as asked); a BadInput it raises leaves the record as it was."""
    for _ in range(SAVE_ATTEMPTS):
        campaign = engine.store.load_campaign(campaign_id)
        event = decide(campaign, engine.clock.now())
        if event is None:
            return campaign, None
        try:
            return engine.store.save_campaign(campaign), event
        except Conflict:
            continue
    raise Conflict(f"campaign '{campaign_id}' kept changing while the change was saved; nothing was changed, try again")


def refuse_final(campaign: Campaign, verb: str) -> None:
    """An ended campaign takes no change: the schedule's refusal, before anything is asked or written."""
    if campaign.state in FINAL_CAMPAIGN_STATES:
        raise BadInput(f"campaign {campaign.id} has ended ({campaign.state.value}); there is nothing to {verb}")


# -- pause ------------------------------------------------------------------------------------------


def pause_campaign(engine: Engine, campaign_id: str, *, actor: str, comment: str | None = None) -> ControlOutcome:
    """No new target starts; every unfinished operation of the campaign is asked to pause at its next step
    boundary (one already paused or asked is left as it is). A paused campaign is told so and its
    operations asked again (a pause cut short by a crash is finished)."""

    def decide(campaign: Campaign, now: datetime) -> CampaignEvent | None:
        refuse_final(campaign, "pause")
        if campaign.state is CampaignState.PAUSED:
            return None
        return schedule.pause(campaign, actor, now, comment)

    campaign, event = _change_campaign(engine, campaign_id, decide)
    message = (
        f"Campaign {campaign.id} paused: no new target starts"
        if event is not None
        else f"Campaign {campaign.id} is already paused: no new target starts"
    )
    notes = []
    for view in live_targets(engine, campaign, load_paused=False):
        if not view.unfinished:
            continue
        target = view.target
        try:
            answer = engine.request_pause(target.operation_id, actor=actor, comment=pause_comment(campaign.id))
        except BadInput as exc:  # it ended, or is in its last step, since it was listed
            notes.append(TargetNote(target.target_id, target.operation_id, False, str(exc)))
            continue
        notes.append(TargetNote(target.target_id, target.operation_id, answer.requested, answer.message))
    return ControlOutcome(campaign, event, message, notes)


# -- resume -----------------------------------------------------------------------------------------


def resume_campaign(
    engine: Engine,
    campaign_id: str,
    *,
    actor: str,
    comment: str | None = None,
    tolerance: FailureTolerance | None = None,
    answer_through_execution: AnswerThroughExecution | None = None,
) -> ControlOutcome:
    """Targets start again (the next wave approved, a pause or a halt lifted, as the schedule allows), and
    the operations the campaign's pause paused carry on (`continue`). Operations paused for their own
    reasons are left for a person, each listed with the command that answers it. A campaign already running
    is told so and its campaign-paused operations resumed (a resume cut short by a crash is finished)."""

    def decide(campaign: Campaign, now: datetime) -> CampaignEvent | None:
        refuse_final(campaign, "resume")
        if campaign.state is CampaignState.RUNNING and tolerance is None:
            return None
        return schedule.resume(campaign, actor, now, comment, tolerance)

    campaign, event = _change_campaign(engine, campaign_id, decide)
    message = event.message if event is not None else f"Campaign {campaign.id} is running already"
    notes: list[TargetNote] = []
    for view in live_targets(engine, campaign):
        op, target = view.operation, view.target
        if view.summary is None or not view.unfinished:
            continue
        if op is None:  # not paused: a pause request the campaign made may still wait for its boundary
            note = _withdraw_pause_request(engine, target, campaign.id, actor)
            if note is not None:
                notes.append(note)
            continue
        if not paused_by_campaign(op, campaign.id):
            notes.append(
                TargetNote(
                    target.target_id,
                    op.id,
                    False,
                    f"paused for its own reason, left for a person: {op.pause_reason}",
                    tuple(answer_commands(op)) or (f"rds-maint status {op.id}",),
                )
            )
            continue
        notes.append(_continue(engine, op, target, campaign.id, actor, answer_through_execution))
    return ControlOutcome(campaign, event, message, notes)


def _continue(
    engine: Engine,
    op: Operation,
    target: CampaignTarget,
    campaign_id: str,
    actor: str,
    answer_through_execution: AnswerThroughExecution | None,
) -> TargetNote:
    said = f"campaign {campaign_id} resumed"
    if op.intervention is not None:
        # A Step Functions execution waits for this answer: it goes through the execution, never around it.
        if answer_through_execution is not None and answer_through_execution(op):
            return TargetNote(target.target_id, op.id, True, "continue sent to its Step Functions execution")
        return TargetNote(
            target.target_id,
            op.id,
            False,
            "its Step Functions execution waits for the answer; answer it through the execution",
            (f"rds-maint resume {op.id} --action continue",),
        )
    try:
        result: StepResult = engine.resume(op.id, "continue", said, actor=actor)
    except BadInput as exc:  # it was answered or ended since it was read
        return TargetNote(target.target_id, op.id, False, str(exc))
    return TargetNote(target.target_id, op.id, True, f"resumed with continue: {result.operation_state}")


def _withdraw_pause_request(engine: Engine, target: CampaignTarget, campaign_id: str, actor: str) -> TargetNote | None:
    """A pause the campaign asked for that has not happened yet is taken back, so the resumed campaign's
    operation does not stop at its next boundary. Not while a driver holds the step's lease (it would lose
    its own save): then the operation pauses there and the next `campaign resume` carries it on."""
    try:
        answer = engine.withdraw_pause_request(
            target.operation_id,
            actor=actor,
            comment=f"campaign {campaign_id} resumed",
            asked_with=pause_comment(campaign_id),
        )
    except OperationNotFound:
        return None
    if answer.withdrawn:
        return TargetNote(target.target_id, target.operation_id, True, "the campaign's pause request taken back")
    if answer.still_asked:
        return TargetNote(
            target.target_id,
            target.operation_id,
            False,
            "its step is under way: it pauses when the step ends, as the campaign's pause asked; "
            "run campaign resume again then",
        )
    return None


# -- abort ------------------------------------------------------------------------------------------


def abort_campaign(engine: Engine, campaign_id: str, *, actor: str, comment: str | None = None) -> ControlOutcome:
    """Every target not started is skipped; each unfinished operation goes on to its own end and is listed
    with the commands that stop it alone. An aborting campaign is told so (nothing saved again)."""

    def decide(campaign: Campaign, now: datetime) -> CampaignEvent | None:
        refuse_final(campaign, "abort")
        if campaign.state is CampaignState.ABORTING:
            return None
        return schedule.abort(campaign, actor, now, comment)

    campaign, event = _change_campaign(engine, campaign_id, decide)
    skipped = sum(1 for t in campaign.targets if t.state is TargetState.SKIPPED)
    message = (
        f"Campaign {campaign.id} aborted: {skipped} targets not started are skipped"
        if event is not None
        else f"Campaign {campaign.id} is aborting already"
    )
    if campaign.state is CampaignState.ABORTED:
        message += "; no target was running: the campaign has ended"
    notes = [
        TargetNote(
            view.target.target_id,
            view.target.operation_id,
            False,
            f"goes on to its own end ({view.live_state})",
            stop_commands(view),
        )
        for view in live_targets(engine, campaign, load_paused=False)
        if view.unfinished
    ]
    return ControlOutcome(campaign, event, message, notes)


def stop_commands(view: TargetView) -> tuple[str, ...]:
    """How a person stops one target's operation alone: a paused one is answered with abort; a running one
    is paused at its next step boundary first (a step is never cut in the middle), then answered."""
    op_id = view.target.operation_id
    if view.summary is not None and view.summary.state is OperationState.PAUSED:
        return (f"rds-maint resume {op_id} --action abort",)
    return (f"rds-maint pause {op_id}", f"rds-maint resume {op_id} --action abort")
