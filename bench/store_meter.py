"""What a state store asks of its storage while it is watched: requests, bytes sent and bytes received.

Shared by bench/store_requests.py and bench/store_scale.py, so both count the same way.

* S3 and DynamoDB: botocore's `before-send` (every send, the store's own retries included; registered
  first, ahead of moto's handler, which answers the send) counts a request and its body; `after-call`
  counts the reply's body (for a streamed reply such as GetObject, its Content-Length: reading the stream
  here would take it from the store). Headers are not counted: bytes are bodies only.
* File store: an audit hook (PEP 578) on the files under the store's root. A request is an `open`, a
  rename, a removal, a directory listing or an flock. Bytes read are the size of each file opened for
  reading (the file store reads whole files; a store that reads part of a file is over-counted); bytes
  written are the size of each file renamed into place (the atomic write) plus what each file opened
  for appending or writing grew by between its first open and `stop()`.

Audit hooks cannot be removed, so one hook serves every meter of the process: it forwards to the meter
that is running, if any.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["FILE_EVENTS", "StoreMeter", "body_size", "request_size"]

FILE_EVENTS = frozenset({"open", "os.rename", "os.remove", "os.mkdir", "os.listdir", "os.scandir", "fcntl.flock"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def body_size(body: Any) -> int:
    """The bytes a request body holds: bytes or text as they are, a file-like object from where it stands."""
    if body is None:
        return 0
    if isinstance(body, bytes | bytearray | memoryview):
        return len(body)
    if isinstance(body, str):
        return len(body.encode())
    try:
        here = body.tell()
        body.seek(0, os.SEEK_END)
        end = int(body.tell())
        body.seek(here)
        return end - int(here)
    except (AttributeError, OSError, ValueError):
        return 0


def request_size(request: Any) -> int:
    """A request's payload: botocore streams an S3 PutObject body aws-chunked (checksum trailer), and then
    says the payload's size in X-Amz-Decoded-Content-Length; otherwise the body itself."""
    headers = getattr(request, "headers", None) or {}
    for name in ("X-Amz-Decoded-Content-Length", "Content-Length"):
        value = headers.get(name)
        if value is not None:
            text = value.decode() if isinstance(value, bytes) else str(value)
            if text.strip().isdigit():
                return int(text)
    return body_size(getattr(request, "body", None))


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


class StoreMeter:
    """Counts one store's requests and bytes between `start()` and `stop()`; `watch` attaches it to a store."""

    _running: StoreMeter | None = None
    _hooked = False

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.bytes_out = 0
        self.bytes_in = 0
        self.active = False
        self._roots: list[str] = []
        self._grown: dict[str, int] = {}  # file opened to append or write -> its size at that first open
        if not StoreMeter._hooked:
            sys.addaudithook(StoreMeter._audit)
            StoreMeter._hooked = True

    # -- attaching ---------------------------------------------------------------------------

    def watch(self, store: Any) -> Any:
        """Count what `store` does (an S3 or DynamoDB store by its `client`, a file store by its `root`)."""
        client = getattr(store, "client", None)
        if client is not None:
            unique = f"store-meter-{id(self)}"
            client.meta.events.register_first("before-send", self._send, unique_id=f"{unique}-send")
            client.meta.events.register("after-call", self._reply, unique_id=f"{unique}-reply")
        root = getattr(store, "root", None)
        if root is not None:
            resolved = str(Path(root).resolve())
            if resolved not in self._roots:
                self._roots.append(resolved)
        return store

    # -- counting ----------------------------------------------------------------------------

    def start(self) -> None:
        self.requests.clear()
        self.bytes_out = 0
        self.bytes_in = 0
        self._grown.clear()
        self.active = True
        StoreMeter._running = self

    def stop(self) -> None:
        self.active = False
        StoreMeter._running = None
        for path, before in self._grown.items():
            self.bytes_out += max(0, _size(path) - before)
        self._grown.clear()

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def _send(self, request: Any, event_name: str = "", **_: Any) -> None:
        if not self.active:
            return
        self.requests[event_name.rsplit(".", 1)[-1] or "?"] += 1
        self.bytes_out += request_size(request)

    def _reply(self, http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        if not self.active or http_response is None:
            return
        if getattr(model, "has_streaming_output", False):
            self.bytes_in += int((parsed or {}).get("ContentLength", 0) or 0)
        else:
            self.bytes_in += len(getattr(http_response, "content", b"") or b"")

    def _under_root(self, path: Any) -> str | None:
        if isinstance(path, int):
            return None
        text = os.fsdecode(path) if isinstance(path, bytes | os.PathLike) else str(path)
        return text if any(text.startswith(root) for root in self._roots) else None

    def file_event(self, name: str, args: tuple[Any, ...]) -> None:
        """One audit event of this process, counted if it touches the watched root."""
        if name == "fcntl.flock":
            self.requests["flock"] += 1
            return
        path = self._under_root(args[0]) if args else None
        if path is None:
            return
        self.requests[name] += 1
        if name == "open":
            mode, flags = (args[1] if len(args) > 1 else None), (args[2] if len(args) > 2 else 0)
            writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
            if writes:
                if path not in self._grown:
                    truncated = isinstance(mode, str) and "w" in mode
                    self._grown[path] = 0 if truncated else _size(path)
            else:
                self.bytes_in += _size(path)
        elif name == "os.rename" and len(args) > 1:
            # the atomic write: what lands is the temporary file's whole content
            self.bytes_out += _size(path)
            self._grown.pop(path, None)

    @staticmethod
    def _audit(name: str, args: tuple[Any, ...]) -> None:
        meter = StoreMeter._running
        if meter is None or not meter.active or not meter._roots or name not in FILE_EVENTS:
            return
        meter.file_event(name, args)
