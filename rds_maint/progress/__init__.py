"""What a person watching `rds-maint run` sees (`Progress`), and the in-process loop that drives the engine
(`drive`); the end-of-run figures are in `progress.summary`, the terminal's status line in `progress.live`."""

from __future__ import annotations

from rds_maint.progress.display import MARKS, Progress
from rds_maint.progress.loop import MAX_CONFLICT_RETRIES, drive, listening
from rds_maint.progress.summary import RunSummary

__all__ = ["MARKS", "MAX_CONFLICT_RETRIES", "Progress", "RunSummary", "drive", "listening"]
