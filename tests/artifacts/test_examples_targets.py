"""examples/db_instance/ and examples/multi_az_cluster/: one valid start input per operation type for each
target kind beyond Aurora; the README's commands for them parse as the CLI reads them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from rds_maint.cli import main
from rds_maint.planning import parse_request
from tests.helpers.artifacts import EXAMPLES_DIR, OPERATION_TYPES, load_json

KINDS = {"db_instance": "instance_id", "multi_az_cluster": "cluster_id"}
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_has_one_valid_start_input_per_operation_type(kind: str) -> None:
    files = sorted((EXAMPLES_DIR / kind).glob("*.json"))
    assert {f.stem for f in files} == OPERATION_TYPES
    for path in files:
        example = load_json(path)
        assert set(example) == {"params"}
        request = example["params"]
        assert request["type"] == path.stem
        parsed = parse_request(request)
        assert parsed.type.value == path.stem
        key = KINDS[kind]
        other = "cluster_id" if key == "instance_id" else "instance_id"
        assert getattr(parsed, key) == request[key] and getattr(parsed, other) is None


def _commands(text: str) -> list[list[str]]:
    """The `rds-maint ...` commands of the ```sh blocks, continuation lines joined, comments dropped."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["rds-maint"]:
                found.append(words[1:])
    return found


def _names_another_target(words: list[str]) -> bool:
    """A command (not a synopsis such as `list [--cluster C | --instance I]`) on another kind of target."""
    synopsis = any(w.startswith("[") or "|" in w for w in words)
    return not synopsis and ("--instance" in words or "--multi-az-cluster" in words or "--target-kind" in words)


@pytest.mark.parametrize("document", ["README.md", "examples/README.md"])
def test_the_documented_commands_for_the_new_kinds_parse(document: str) -> None:
    """Each command that names a DB instance (or a Multi-AZ DB cluster in a rehearsal or demo) is one the CLI
    accepts as written: its options exist and take the values shown (click's own parsing, no engine run)."""
    commands = [w for w in _commands((REPO / document).read_text(encoding="utf-8")) if _names_another_target(w)]
    assert commands, f"{document} shows no command for a DB instance"
    for words in commands:
        context = main.make_context("rds-maint", list(words), resilient_parsing=True)
        name, command, rest = main.resolve_command(context, list(words))
        assert command is not None, words
        if hasattr(command, "resolve_command"):  # a group (sim): one level more
            sub_context = command.make_context(name or "", rest, parent=context, resilient_parsing=True)
            _, command, rest = command.resolve_command(sub_context, rest)
            assert command is not None, words
        parsed = command.make_context(name or "", list(rest), resilient_parsing=False)
        assert parsed.params, words


def test_the_readme_documents_every_target_kind_and_parameter() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "## Targets: Aurora clusters, DB instances, Multi-AZ DB clusters" in readme
    for parameter in (
        "allocated_storage",
        "allow_downtime",
        "reboot_whole_cluster",
        "method",
        "target_db_instance_class",
        "target_storage_type",
        "target_iops",
        "target_storage_throughput",
        "target_allocated_storage",
        "upgrade_target_storage_config",
    ):
        assert f"| `{parameter}` |" in readme, parameter
