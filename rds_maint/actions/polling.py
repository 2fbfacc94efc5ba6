"""How long to wait before looking again, per kind of transition (seconds)."""

from __future__ import annotations

POLL_SECONDS = {
    "create": 30,
    "modify": 30,
    "delete": 30,
    "reboot": 10,
    "failover": 10,
    "busy": 30,
}
