"""What a Lambda cold start loads and builds: nothing the function never runs, one SDK session, no collector.

bench/cold_start.py measures the cold start (docs/cold-start.md); these tests keep what it depends on from
quietly coming back: a driver, the simulator or test tooling imported by the handler, a client of the first
invocation built on a session of its own (its own loaders and credential lookup), the garbage collector
left off in a warm container, or a call that loads every step kind and the planner to run one step. The
step actions are found by name in a registry that imports each on first use (`rds_maint.actions.SOURCES`):
the tests below also keep that registry whole, so a typo or a step kind left out of it fails here, not in
a step. Each probe runs in a fresh interpreter, since this test process has long since imported everything.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import rds_maint.actions
import rds_maint.steps
from rds_maint import credentials
from rds_maint.actions import ACTIONS, SOURCES, ActionRegistry, load_action
from rds_maint.config import Settings
from rds_maint.engine.events import DISRUPTIONS
from rds_maint.model import StepState
from rds_maint.steps.base import StepKind
from rds_maint.store import FileStore
from rds_maint.store.s3 import S3Store
from rds_maint.wiring import build_engine, events_client
from tests.helpers.fake_rds import CLUSTER, NEW_CLASS, FakeClock, FakeRds, FakeWorld, store_root

ROOT = Path(__file__).resolve().parents[2]

# Packages the Lambda never runs: the CLI and its terminal views, the demo and the rehearsal account, the
# simulator, the Step Functions harness and test tooling, the DynamoDB store of another URL.
NEVER_IN_LAMBDA = (
    "click",
    "rds_sim",
    "sfn_harness",
    "moto",
    "pytest",
    "freezegun",
    "rds_maint.cli",
    "rds_maint.demo",
    "rds_maint.rehearsal",
    "rds_maint.progress",
    "rds_maint.notify",
    "rds_maint.stepfunctions",
    "rds_maint.planning.saved_plan",
    "rds_maint.store.dynamodb",
)

# The first invocation's clients, made as the handler makes them (bench/cold_start.py's probe does the same).
FIRST_CALL = """
import gc, json, sys
import rds_maint.lambda_handler as lambda_handler
after_import = {"collecting": gc.isenabled(), "frozen": gc.get_freeze_count()}
from rds_maint.config import Settings
from rds_maint.wiring import events_client
settings = Settings.from_env()
engine = lambda_handler.warm_engine(settings)
engine.rds(settings.region)
events_client(settings.region, settings.profile)
loaded = sorted(sys.modules)
answer = lambda_handler.handler({"action": "no-such-action"})
print(json.dumps({"after_import": after_import, "collecting_after_first_call": gc.isenabled(),
                  "modules": loaded, "error": answer["error"]}))
"""


def first_call(in_lambda: bool) -> dict[str, object]:
    """FIRST_CALL's report from a fresh interpreter with fake credentials and an S3 store (nothing is sent)."""
    return fresh_interpreter(FIRST_CALL, in_lambda, {"RDS_MAINT_STORE": "s3://rds-maint-cold-start/rds-maint"})


def fresh_interpreter(probe: str, in_lambda: bool, settings: dict[str, str], *args: str) -> dict[str, Any]:
    """The last line `probe` prints (JSON), run in a fresh interpreter with fake credentials and `settings`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "RDS_MAINT_")) and key not in ("PYTHONPATH", "PYTHONSTARTUP")
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            **settings,
        }
    )
    if in_lambda:
        env["AWS_LAMBDA_FUNCTION_NAME"] = "rds-maint-engine"
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.fixture(scope="module")
def lambda_cold_start() -> dict[str, object]:
    return first_call(in_lambda=True)


def test_the_handler_and_its_first_call_load_nothing_the_lambda_never_runs(
    lambda_cold_start: dict[str, object],
) -> None:
    loaded = lambda_cold_start["modules"]
    assert isinstance(loaded, list)
    found = sorted(m for m in loaded if any(m == p or m.startswith(p + ".") for p in NEVER_IN_LAMBDA))
    assert found == []
    # the probe did reach the first call's clients: the S3 store, the gateway and boto3 are loaded
    assert {"rds_maint.store.s3", "rds_maint.rds", "boto3"} <= set(loaded)


def test_the_collector_is_off_through_a_lambda_cold_start_and_back_after_the_first_answer(
    lambda_cold_start: dict[str, object],
) -> None:
    after_import = lambda_cold_start["after_import"]
    assert isinstance(after_import, dict)
    assert after_import["collecting"] is False, "no collection while the container imports its code"
    assert after_import["frozen"] > 0, "the imported module graph is frozen out of later collections"
    assert "unknown action 'no-such-action'" in str(lambda_cold_start["error"])
    assert lambda_cold_start["collecting_after_first_call"] is True, "a warm container collects garbage again"


def test_outside_lambda_importing_the_handler_leaves_the_collector_alone() -> None:
    """Tests, the Step Functions harness and the CLI's process import the handler too: nothing changes there."""
    report = first_call(in_lambda=False)
    assert report["after_import"] == {"collecting": True, "frozen": 0}
    assert report["collecting_after_first_call"] is True


def test_the_first_calls_clients_share_one_sdk_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """Store, RDS and EventBridge clients of one region and profile on one session: each other session would
    read the SDK's endpoint data again and look for credentials again on a cold start."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = Settings(store_url="s3://rds-maint-cold-start/rds-maint", region="us-east-1")
    engine = build_engine(settings)
    assert isinstance(engine.store, S3Store)
    rds_client = engine.rds("us-east-1").client  # type: ignore[attr-defined]
    clients = {
        "s3": engine.store.client,
        "rds": rds_client,
        "events": events_client(settings.region, settings.profile),
    }
    sessions = {name: getattr(client, credentials.SESSION_ATTRIBUTE, None) for name, client in clients.items()}
    assert sessions["s3"] is not None
    assert all(session is sessions["s3"] for session in sessions.values()), sessions
    assert clients["events"].meta.service_model.service_name == "events"


# -- the action registry: one entry per step kind, each imported on first use ----------------------------


def step_kinds() -> dict[str, StepKind[Any, Any]]:
    """Every step kind `rds_maint.steps` defines (module attributes, and tuples of kinds), by action name."""
    kinds: dict[str, StepKind[Any, Any]] = {}
    for info in pkgutil.iter_modules(rds_maint.steps.__path__):
        module = importlib.import_module(f"rds_maint.steps.{info.name}")
        for value in vars(module).values():
            for kind in value if isinstance(value, tuple) else (value,):
                if isinstance(kind, StepKind):
                    kinds[kind.action] = kind
    return kinds


def action_modules() -> list[Any]:
    """Every module of `rds_maint.actions`, its subpackages' included."""
    prefix = "rds_maint.actions."
    names = [m.name for m in pkgutil.walk_packages(rds_maint.actions.__path__, prefix)]
    return [importlib.import_module(name) for name in names]


def test_every_registry_entry_imports_the_action_it_is_listed_under() -> None:
    for name, source in SOURCES.items():
        action = load_action(name, source)  # ImportError: a module or an attribute that is not there
        assert action.kind.action == name, source
        assert callable(action.run) and callable(action.check), source


def test_every_step_kind_has_its_action_in_the_registry() -> None:
    kinds = step_kinds()
    assert {"create_temp_instance", "switchover_blue_green", "reboot_db_instance"} <= set(kinds)
    assert sorted(set(kinds) - set(SOURCES)) == [], "step kinds no action is registered for"
    assert sorted(set(SOURCES) - set(kinds)) == [], "registered actions of no step kind"
    for name, kind in kinds.items():
        assert ACTIONS[name].kind is kind, f"{name}: the registry's action runs another kind of the same name"


def test_every_action_the_action_modules_define_is_registered() -> None:
    """An action class or a module's tuple of actions that the registry does not list would never run."""
    defined: set[str] = set()
    for module in action_modules():
        for value in vars(module).values():
            if isinstance(value, tuple):
                defined |= {a.kind.action for a in value if isinstance(getattr(a, "kind", None), StepKind)}
            elif inspect.isclass(value) and value.__module__ == module.__name__:
                kind = getattr(value, "kind", None)
                if isinstance(kind, StepKind) and hasattr(value, "run") and hasattr(value, "check"):
                    defined.add(kind.action)
    assert "create_temp_instance" in defined and "modify_db_instance_class_offline" in defined
    assert sorted(defined - set(SOURCES)) == []


def test_a_lookup_imports_only_the_module_of_the_name_looked_up() -> None:
    """Naming and listing the actions imports nothing; a broken entry is an ImportError, never an unknown name."""
    registry = ActionRegistry(
        {"create_temp_instance": SOURCES["create_temp_instance"], "typo": "rds_maint.actions.no_such_module:Nothing"}
    )
    assert "typo" in registry and list(registry) == ["create_temp_instance", "typo"] and len(registry) == 2
    assert registry.get("not_registered") is None
    assert registry["create_temp_instance"] is registry["create_temp_instance"]  # made once, then kept
    with pytest.raises(ImportError, match="no_such_module"):
        registry.get("typo")
    wrong = ActionRegistry({"failover": SOURCES["create_temp_instance"]})
    with pytest.raises(ImportError, match="registers no action of that name"):
        wrong.get("failover")


def test_the_disruption_names_are_those_of_the_steps_that_move_the_writer() -> None:
    """By action name (engine/events.py imports no step kind): each a disruptive kind, and every disruptive
    kind that declares no interruption of its own (which would name it) has one."""
    kinds = step_kinds()
    assert all(kinds[name].disruptive for name in DISRUPTIONS)
    assert {name for name, kind in kinds.items() if kind.disruptive and kind.interruption is None} <= set(DISRUPTIONS)


# -- a Lambda call that checks a waiting step loads that step's kind and action, nothing of the others ---

# The real handler and wiring on a file store, its RDS client answered by botocore's Stubber (nothing is sent):
# the step waits for the temp instance, which DescribeDBInstances says is still being created.
WAITING_STEP_CALL = """
import json, sys
from botocore.stub import Stubber
import rds_maint.lambda_handler as lambda_handler
from rds_maint.config import Settings
operation_id, instance_id, instance_class = sys.argv[1:4]
imported = sorted(sys.modules)
settings = Settings.from_env()
rds = lambda_handler.warm_engine(settings).rds(settings.region)
stub = Stubber(rds.client)
row = {"DBInstanceIdentifier": instance_id, "DBInstanceClass": instance_class, "DBInstanceStatus": "creating"}
stub.add_response("describe_db_instances", {"DBInstances": [row]}, {"DBInstanceIdentifier": instance_id})
with stub:
    answer = lambda_handler.handler({"action": "poll", "operation_id": operation_id})
    stub.assert_no_pending_responses()
print(json.dumps({"answer": answer, "imported": imported, "modules": sorted(sys.modules)}))
"""

# The step checked below, its kind's module, and the action modules of every other kind's family.
WAITING_ACTION = "create_temp_instance"


def _within(module: str, packages: list[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def family_modules() -> dict[str, set[str]]:
    """Each step kind module (rds_maint.steps.X) -> the action modules the registry names for its kinds."""
    families: dict[str, set[str]] = {}
    for name, source in SOURCES.items():
        kind_module = ACTIONS[name].kind.params.__module__
        families.setdefault(kind_module, set()).add(source.partition(":")[0])
    return families


@pytest.fixture(scope="module")
def waiting_step_call(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An Aurora instance_type_change made and driven to its waiting create_temp_instance step on the fake RDS
    (in this process), then one `poll` of the real handler in a fresh Lambda interpreter on the same store."""
    with store_root(tmp_path_factory.mktemp("waiting")) as root:
        clock = FakeClock(datetime.now(UTC))  # the handler's engine reads the real clock: a wait just begun
        rds = FakeRds(clock)
        rds.add_cluster()
        store = FileStore(root / "state")
        world = FakeWorld(clock=clock, rds=rds, store=store, engine=FakeWorld.engine_for(rds, store, clock))
        op = world.create()
        world.engine.start(op.id)
        world.engine.advance(op.id)  # check_cluster
        world.engine.advance(op.id)  # create_temp_instance: created, now waiting
        step = world.op(op.id).steps[1]
        assert (step.action, step.state) == (WAITING_ACTION, StepState.WAITING)
        report = fresh_interpreter(
            WAITING_STEP_CALL,
            True,
            {"RDS_MAINT_STORE": f"file://{world.store.root}", "RDS_MAINT_STATUS_EVENTS": "off"},
            op.id,
            str(step.parameters["instance_id"]),
            NEW_CLASS,
        )
        report["stored_step"] = world.op(op.id).steps[1]
        return report


def test_a_poll_of_a_waiting_step_checks_it_through_the_real_handler(waiting_step_call: dict[str, Any]) -> None:
    answer = waiting_step_call["answer"]
    assert (answer["error"], answer["needs_wait"], answer["step_name"]) == (None, True, WAITING_ACTION)
    assert answer["wait_seconds"] > 0
    stored = waiting_step_call["stored_step"]
    assert stored.state is StepState.WAITING and "(now creating)" in (stored.wait_condition or "")
    assert stored.parameters["cluster_id"] == CLUSTER


def test_a_poll_of_a_waiting_step_loads_its_kind_and_action_and_nothing_of_the_others(
    waiting_step_call: dict[str, Any],
) -> None:
    loaded, imported = set(waiting_step_call["modules"]), set(waiting_step_call["imported"])
    own_kind = ACTIONS[WAITING_ACTION].kind.params.__module__
    families = family_modules()
    own_actions = families[own_kind]
    assert own_kind == "rds_maint.steps.cluster" and SOURCES[WAITING_ACTION].partition(":")[0] in own_actions
    # the handler's import alone: no step kind, no action
    assert sorted(m for m in imported if _within(m, [*families, *SOURCES_MODULES])) == []
    # the call: the step's kind and action, and no other kind's, nor the planner or the plans
    assert {own_kind, SOURCES[WAITING_ACTION].partition(":")[0]} <= loaded
    others = [kind for kind in families if kind != own_kind]
    other_actions = sorted(set().union(*(families[k] for k in others)) - own_actions)
    assert len(others) >= 4 and other_actions
    assert sorted(m for m in loaded if _within(m, others)) == []
    assert sorted(m for m in loaded if _within(m, other_actions)) == []
    assert sorted(m for m in loaded if _within(m, ["rds_maint.planning", "rds_maint.plans"])) == []


SOURCES_MODULES = sorted({source.partition(":")[0] for source in SOURCES.values()})
