"""A test process set up as a rehearsal command finds one: no way out to the network, and the environment
the command rewrites (fake credentials, the account's region) put back afterwards.

A rehearsal command must never reach AWS; the network refused here makes any request that escapes the
simulator fail the test with the reason instead of waiting on a connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.httpsession
import pytest
from click.testing import CliRunner, Result

from rds_maint.cli import main
from tests.helpers.environment import environment_kept

__all__ = ["cli", "offline_rehearsal"]


@contextmanager
def offline_rehearsal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every HTTP request botocore would send raises; the environment is as it was after the block."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a rehearsal command sent a request to the network")

    with environment_kept():
        monkeypatch.setattr(botocore.httpsession.URLLib3Session, "send", refuse)
        yield


def cli(*args: str) -> Result:
    """`rds-maint ARGS` in this process, as a person types it (no store or account added)."""
    return CliRunner().invoke(main, list(args))
