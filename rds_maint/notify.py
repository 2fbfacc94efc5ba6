"""Telling a person who is not watching: a Slack-style incoming webhook (`--notify URL`).

A run driven in this process posts `{"text": ...}` when it pauses for a person (what it needs and the
command that answers), completes or fails. A notification is a courtesy, never a step: a post that
fails is retried once, then logged and reported once on stderr, and the run carries on. The URL's
path is the webhook's secret, so only its scheme and host are ever shown.
"""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import urlsplit

import click

from rds_maint.errors import BadInput
from rds_maint.log import get_logger
from rds_maint.model import Operation, Outcome, StepResult

__all__ = ["TIMEOUT_SECONDS", "Notifier", "check_url", "message_for", "shown_url"]

log = get_logger("rds_maint.notify")

TIMEOUT_SECONDS = 5.0
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def shown_url(url: str) -> str:
    """The URL as it may be printed: scheme and host, the secret path hidden."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/..." if parts.netloc else "(not a URL)"


def check_url(url: str) -> str:
    """`url` if a webhook may be posted to it: https://, or http:// on this machine (a local relay, tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS:
        return url
    raise BadInput(
        f"--notify takes an https:// webhook URL (http:// only on 127.0.0.1 or localhost), not {shown_url(url)}"
    )


def message_for(op: Operation, result: StepResult, store_flag: str = "") -> str | None:
    """The text of the notice for how a run ended; None when it ended some other way (nothing to tell)."""
    what = f"rds-maint: {op.type.value} on {op.target_label} ({op.region}), operation {op.id}"
    if op.campaign_id is not None:  # one target of a campaign: say which, so a reader finds the rest
        what += f" of campaign {op.campaign_id}"
    if result.outcome is Outcome.INTERVENTION:
        answer = "respond" if op.intervention is not None else "resume"
        return (
            f"{what} is paused and needs you: {op.pause_reason}\n"
            f"See what each answer does: rds-maint status {op.id}{store_flag}\n"
            f"Answer with: rds-maint {answer} {op.id} --action continue{store_flag} (or abort, rollback, mark_complete)"
        )
    if result.outcome is Outcome.COMPLETED:
        took = ""
        if op.started_at and op.completed_at:
            minutes = (op.completed_at - op.started_at).total_seconds() / 60
            took = f" in {minutes:.0f} min"
        return f"{what} completed{took}."
    if result.outcome is Outcome.FAILED:
        error = f": {op.error}" if op.error else ""
        return f"{what} {op.state.value}{error}\nDetails: rds-maint status {op.id}{store_flag}"
    return None


class Notifier:
    """Posts notices to one webhook; reports the first failed post only."""

    def __init__(self, url: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = check_url(url)
        self.timeout = timeout
        self.failures = 0

    def post(self, text: str) -> bool:
        body = json.dumps({"text": text}).encode()
        error = ""
        for _ in range(2):  # one retry at most
            request = urllib.request.Request(
                self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
                return True
            except (OSError, ValueError) as exc:  # URLError, HTTPError and timeouts are OSErrors
                error = f"{type(exc).__name__}: {exc}"
        self.failures += 1
        log.warning("notification_failed", url=shown_url(self.url), error=error)
        if self.failures == 1:
            where = shown_url(self.url)
            click.echo(f"warning: could not post the notification to {where} ({error}); the run goes on", err=True)
        return False

    def tell(self, op: Operation, result: StepResult, store_flag: str = "") -> None:
        text = message_for(op, result, store_flag)
        if text is not None:
            self.post(text)
