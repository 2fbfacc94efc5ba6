"""examples/: one valid start input per operation type, a resume input, and a README that shows both drivers."""

from __future__ import annotations

import importlib

import pytest

from tests.helpers.artifacts import (
    EXAMPLES_DIR,
    OPERATION_TYPES,
    load_json,
)

# ------------------------------------------------------------------------------ examples


EXAMPLE_FILES = sorted(p.name for p in EXAMPLES_DIR.glob("*.json") if p.name != "resume.json")


def test_there_is_one_example_per_operation_type() -> None:
    types = {load_json(EXAMPLES_DIR / name)["params"]["type"] for name in EXAMPLE_FILES}
    assert types == OPERATION_TYPES
    assert {name.removesuffix(".json") for name in EXAMPLE_FILES} == OPERATION_TYPES


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_example_is_a_valid_start_input(name: str) -> None:
    example = load_json(EXAMPLES_DIR / name)
    assert set(example) == {"params"}
    request = example["params"]
    assert request["type"] in OPERATION_TYPES
    assert request["cluster_id"] == "orders-prod"
    parse_request = importlib.import_module("rds_maint.engine").parse_request
    parsed = parse_request(request)
    assert str(getattr(parsed.type, "value", parsed.type)) == request["type"]


def test_resume_example_names_an_operation() -> None:
    example = load_json(EXAMPLES_DIR / "resume.json")
    assert isinstance(example["operation_id"], str) and example["operation_id"]
    assert "params" not in example


def test_examples_readme_shows_cli_and_step_functions_commands() -> None:
    readme = (EXAMPLES_DIR / "README.md").read_text(encoding="utf-8")
    for snippet in (
        "rds-maint plan --type instance_type_change --cluster orders-prod",
        "--param target_instance_type=db.r6g.xlarge",
        "rds-maint run",
        "aws stepfunctions start-execution",
        "--input file://examples/instance_type_change.json",
        "aws stepfunctions send-task-success --task-token",
        """--task-output '{"action":"continue\"""",
        "send-task-failure",
        "--error OperationAborted",
        "rds-maint respond",
        "--action continue",
    ):
        assert snippet in readme, f"examples/README.md lacks {snippet!r}"
