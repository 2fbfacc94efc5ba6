"""The process environment as a test found it, put back afterwards.

The rehearsal and the demo isolate the process from AWS by rewriting its environment (fake credentials,
the account's region, no profile), as they must in a real command; in a test process that would leak
into the tests that follow (an `AWS_REGION` they do not expect).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["environment_kept"]


@contextmanager
def environment_kept() -> Iterator[None]:
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
