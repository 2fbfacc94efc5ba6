"""`--notify URL`: a person away from the terminal is told when a run pauses for them, completes or fails,
through a Slack-style incoming webhook (here a local HTTP server on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from click.testing import Result

from tests.helpers.world import World

PARAMS = {"target_instance_type": "db.r6g.xlarge"}
SECRET = "T000/B000/XXXXsecretXXXX"


class Webhook:
    """An incoming webhook on 127.0.0.1: keeps each posted JSON body; answers `status`."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                hook.posts.append(
                    {"path": self.path, "type": self.headers["Content-Type"], **json.loads(self.rfile.read(length))}
                )
                self.send_response(hook.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/{SECRET}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def texts(self) -> list[str]:
        return [post["text"] for post in self.posts]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    hook.thread.start()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def cli(world: World, *args: str, **kwargs: Any) -> Result:
    return world.cli([*args, "--store", world.store_url], **kwargs)


def test_a_pause_posts_what_is_needed_and_the_answer_then_completion_posts_again(
    world: World, cluster_1w2r: list[str], webhook: Webhook
) -> None:
    op = world.create(PARAMS, pause_before_steps=["failback"])
    paused = cli(world, "run", op.id, "--notify", webhook.url)
    assert paused.exit_code == 3, paused.output
    [pause] = webhook.posts
    assert pause["path"] == f"/services/{SECRET}" and pause["type"] == "application/json"
    assert f"operation {op.id} is paused and needs you: Paused before step 'failback'" in pause["text"]
    assert f"rds-maint resume {op.id} --action continue --store {world.store_url}" in pause["text"]

    answered = cli(world, "resume", op.id, "--action", "continue", "--run", "--notify", webhook.url)
    assert answered.exit_code == 0, answered.output
    assert len(webhook.posts) == 2
    completed = f"instance_type_change on cluster orders-prod (us-east-1), operation {op.id} completed in "
    assert completed in webhook.texts()[1]
    assert SECRET not in paused.output + answered.output


def test_a_failure_posts_the_error(world: World, cluster_1w2r: list[str], webhook: Webhook) -> None:
    op = world.create(PARAMS, pause_before_steps=["modify_class:orders-prod-instance-1"])
    assert cli(world, "run", op.id).exit_code == 3
    assert webhook.posts == []  # without --notify, nothing is posted

    aborted = cli(world, "resume", op.id, "--action", "abort", "--run", "--notify", webhook.url)
    assert aborted.exit_code == 1, aborted.output
    [failure] = webhook.texts()
    state = world.store.load(op.id)
    assert f"operation {op.id} {state.state.value}: {state.error}" in failure
    assert f"rds-maint status {op.id} --store {world.store_url}" in failure


def test_the_webhook_comes_from_the_environment_too(world: World, cluster_1w2r: list[str], webhook: Webhook) -> None:
    op = world.create(PARAMS)
    done = cli(world, "run", op.id, env={"RDS_MAINT_NOTIFY": webhook.url})
    assert done.exit_code == 0, done.output
    assert [text.endswith(".") and "completed in" in text for text in webhook.texts()] == [True]


def test_a_failing_webhook_is_reported_once_and_never_stops_the_run(
    world: World, cluster_1w2r: list[str], webhook: Webhook
) -> None:
    webhook.status = 500
    op = world.create(PARAMS)
    done = cli(world, "run", op.id, "--notify", webhook.url)
    assert done.exit_code == 0, done.output
    assert len(webhook.posts) == 2  # the post and its one retry
    warnings = [line for line in done.output.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: could not post the notification to http://127.0.0.1:{webhook.server.server_port}/... "
        "(HTTPError: HTTP Error 500: Internal Server Error); the run goes on"
    ]
    assert SECRET not in done.output
    assert world.store.load(op.id).state.value == "completed"


@pytest.mark.parametrize(
    "url",
    [f"http://hooks.example.com/services/{SECRET}", f"ftp://127.0.0.1/{SECRET}", "hooks.example.com"],
)
def test_a_webhook_that_is_not_https_is_refused_before_anything_changes(
    world: World, cluster_1w2r: list[str], url: str
) -> None:
    op = world.create(PARAMS)
    refused = cli(world, "run", op.id, "--notify", url)
    assert refused.exit_code == 2
    [line] = refused.output.splitlines()
    assert line.startswith("error: --notify takes an https:// webhook URL (http:// only on 127.0.0.1 or localhost)")
    assert SECRET not in refused.output
    assert world.store.load(op.id).state.value == "created"
    assert world.mutating_calls() == []
