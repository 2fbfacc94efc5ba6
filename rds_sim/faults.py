"""Faults a test can arm: throttling, refusals, lost responses, crashes, stuck instances.

Real AWS throttles (the RDS budget is shared with people and other tools), loses responses
(the call took effect but the client saw a 5xx or a timeout) and leaves instances stuck in a
transitional status. The engine must survive each of these without repeating a step, so the
simulator can produce them on demand, deterministically, a counted number of times.

Faults that answer *instead of* AWS (throttle, fail) fire before the call is applied; faults
that hide AWS's answer (lose_response, crash_after) fire after the call took effect, and only
when it did (a refused call has no effect to hide).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rds_sim.errors import ApiError, internal_failure, throttled

ANY_OPERATION = "*"
PreKind = Literal["throttle", "fail"]
PostKind = Literal["lose_response", "crash_after"]


@dataclass
class _Armed:
    kind: PreKind | PostKind
    operation: str
    remaining: int | None  # None: until cleared
    error: ApiError | None = None

    def matches(self, operation: str) -> bool:
        return self.operation in (ANY_OPERATION, operation)

    def consume(self) -> None:
        if self.remaining is not None:
            self.remaining -= 1

    @property
    def spent(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


class Faults:
    """The fault plan of one simulated account (`sim.faults`)."""

    def __init__(self) -> None:
        self._armed: list[_Armed] = []
        self._stuck: dict[str, str] = {}
        self._failed_creations: dict[str, str] = {}

    # -- arming --------------------------------------------------------------------------

    def throttle(self, operation: str = ANY_OPERATION, times: int | None = 3) -> None:
        """Answer `Throttling: Rate exceeded` (HTTP 400); with "*" every operation consumes one."""
        self._arm(_Armed("throttle", operation, times, throttled()))

    def fail(
        self, operation: str, code: str, message: str = "Simulated failure", times: int | None = 1, status: int = 400
    ) -> None:
        """Answer this error instead of applying the call; `times=None` until `clear(operation)`."""
        self._arm(_Armed("fail", operation, times, ApiError(code, message, status)))

    def lose_response(self, operation: str, times: int | None = 1) -> None:
        """Apply the call, then answer `InternalFailure` (HTTP 500) as if the response was lost."""
        self._arm(_Armed("lose_response", operation, times, internal_failure()))

    def crash_after(self, operation: str, times: int | None = 1) -> None:
        """Apply the call, then raise `SimulatedCrash` out of the client call."""
        self._arm(_Armed("crash_after", operation, times))

    def stuck(self, instance_id: str, status: str = "modifying") -> None:
        """The instance shows `status` and refuses every change until `unstick`."""
        self._stuck[instance_id] = status

    def fail_creation(self, instance_id: str = ANY_OPERATION, status: str = "failed") -> None:
        """The next CreateDBInstance of `instance_id` ("*": of any instance) is accepted, runs its course,
        then ends in `status` (`failed`, `incompatible-parameters`, `incompatible-network`,
        `inaccessible-encryption-credentials`, ...) instead of `available`.

        AWS: an instance in such a status never becomes available by itself; it can be deleted
        (DeleteDBInstance reference; "DB instance status" in the Aurora user guide).
        """
        self._failed_creations[instance_id] = status

    def take_failed_creation(self, instance_id: str) -> str | None:
        """The failure status armed for this creation, if any (consumed)."""
        for key in (instance_id, ANY_OPERATION):
            if key in self._failed_creations:
                return self._failed_creations.pop(key)
        return None

    def unstick(self, instance_id: str) -> None:
        self._stuck.pop(instance_id, None)

    def clear(self, operation: str | None = None) -> None:
        """Disarm the faults of one operation, or everything (stuck instances too) with None."""
        if operation is None:
            self._armed.clear()
            self._stuck.clear()
            self._failed_creations.clear()
        else:
            self._armed = [a for a in self._armed if a.operation != operation]

    # -- used by the simulator -----------------------------------------------------------

    def stuck_status(self, instance_id: str) -> str | None:
        return self._stuck.get(instance_id)

    def before_call(self, operation: str) -> ApiError | None:
        """The error to answer instead of applying the call, consuming one armed fault."""
        armed = self._take(operation, ("throttle", "fail"))
        return armed.error if armed else None

    def after_call(self, operation: str) -> PostKind | None:
        """How to hide the answer of a call that took effect, consuming one armed fault."""
        armed = self._take(operation, ("lose_response", "crash_after"))
        if armed is None or armed.kind not in ("lose_response", "crash_after"):
            return None
        return "lose_response" if armed.kind == "lose_response" else "crash_after"

    def _arm(self, armed: _Armed) -> None:
        if armed.remaining is not None and armed.remaining <= 0:
            return
        self._armed.append(armed)

    def _take(self, operation: str, kinds: tuple[str, ...]) -> _Armed | None:
        for armed in self._armed:
            if armed.kind in kinds and armed.matches(operation):
                armed.consume()
                if armed.spent:
                    self._armed.remove(armed)
                return armed
        return None
