"""Counting a campaign target's requests in tests: a request meter whose count a test sets, for engines whose
saves must count what the test says, and the calls a target's operation sends after its final save."""

from __future__ import annotations

# What a target's operation sends after its final save: `release_lock` reads the mark (`read_mark` describes
# the cluster, then its members) and takes the tag that names the operation off; one more save keeps these in
# the target's tally.
MARK_RELEASE = ("DescribeDBClusters", "DescribeDBInstances", "RemoveTagsFromResource")


class SetMeter:
    """A `RequestMeter` (rds_maint.ports) whose count the test sets: `pending` is what the next take hands over,
    so the save that follows counts exactly that."""

    def __init__(self) -> None:
        self.pending = 0

    def take(self) -> int:
        sent, self.pending = self.pending, 0
        return sent
