"""The interface contract the tests check the drivers against (DESIGN section 4)."""

from __future__ import annotations

# Every key of an engine result, always: the Lambda's answer and the CLI's --json output.
CONTRACT_KEYS = {
    "operation_id",
    "operation_state",
    "step_index",
    "step_name",
    "step_action",
    "step_state",
    "outcome",
    "continue",
    "needs_wait",
    "needs_intervention",
    "completed",
    "failed",
    "wait_seconds",
    "pause_reason",
    "error",
}
