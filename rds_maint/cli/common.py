"""What every `rds-maint` command shares: global flags, the engine they build, exit codes, the request.

Which engine a command gets is `Options.engine_factory`: the real wiring (`rds_maint.wiring`) unless a
caller passes its own `Options` as click's `obj` (tests, on the simulator); with `--simulate DIR` (or
RDS_MAINT_SIMULATE) it is an engine on that rehearsal account (`rds_maint.rehearsal`), never AWS.
Exit codes (DESIGN section 8): 0 completed, 2 bad input, 3 paused for a person, 1 failed.

Errors reach the person as one line, `error: ...` with the fix, never a traceback: ours carry their
message; an AWS SDK error that got this far is classified once by `rds_maint.credentials` (login,
parameters, an unreachable endpoint); anything else is named with a pointer to `--debug`, which shows
the full traceback (and the SDK's wire log) as aws-cli's flag does.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

import click

from rds_maint import config
from rds_maint.config import Settings
from rds_maint.engine import Engine, EngineFactory
from rds_maint.errors import BadInput, RdsMaintError
from rds_maint.model import Outcome, StepResult

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_PAUSED",
    "Options",
    "common_options",
    "engine",
    "exit_code",
    "fail",
    "guard",
    "opts",
    "print_result",
    "simulate_dir",
    "store_flag",
]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_PAUSED = 0, 1, 2, 3


class Options:
    """Global flags, given before or after the sub-command (the later one wins)."""

    def __init__(self, engine_factory: EngineFactory | None = None) -> None:
        self.engine_factory: EngineFactory = engine_factory or _real_engine
        self.store: str | None = None
        self.region: str | None = None
        self.profile: str | None = None
        self.output = "text"
        # A rehearsal account's directory (`rds-maint sim create`): the command runs against it, never AWS.
        self.simulate: str | None = None
        # Where AWS API calls go instead of the region's endpoint (a local emulator), as aws-cli's flag.
        self.endpoint_url: str | None = None
        # Full log and tracebacks on stderr, as aws-cli's --debug.
        self.debug = False
        # A Slack-style incoming webhook told of a pause, a completion or a failure of a run in this process.
        self.notify: str | None = None

    def settings(self) -> Settings:
        """The flags over the environment over the profile (`Settings`); `--endpoint-url` is handed on to every
        AWS client of the command through AWS_ENDPOINT_URL, which botocore reads for each client it builds."""
        from rds_maint import credentials

        if self.endpoint_url:
            config.send_aws_calls_to(self.endpoint_url)
        return Settings.from_env(
            self.store, self.region, self.profile, self.endpoint_url, profile_region=credentials.profile_region
        )


def _real_engine(settings: Settings) -> Engine:
    from rds_maint import wiring

    return wiring.build_engine(settings)


def merge(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None:
        opts = ctx.ensure_object(Options)
        setattr(opts, param.name or "", value)
    return value


def merge_notify(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """--notify / RDS_MAINT_NOTIFY: refused (exit 2) before anything is written unless https:// or local."""
    if value is not None:
        from rds_maint.notify import check_url

        try:
            check_url(value)
        except BadInput as exc:
            fail(str(exc))
    return merge(ctx, param, value)


def common_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option(
                "--store",
                expose_value=False,
                callback=merge,
                help="State store URL (file://, s3://, dynamodb://).",
            ),
            click.option(
                "--region", expose_value=False, callback=merge, help="AWS region of the cluster or DB instance."
            ),
            click.option("--profile", expose_value=False, callback=merge, help="AWS named profile."),
            click.option(
                "--simulate",
                metavar="DIR",
                expose_value=False,
                callback=merge,
                help="Run against the rehearsal account in DIR (rds-maint sim create), never AWS.",
            ),
            click.option(
                "--endpoint-url",
                expose_value=False,
                callback=merge,
                help="Send AWS API calls to this URL (a local emulator) instead of AWS.",
            ),
            click.option(
                "--debug",
                is_flag=True,
                default=None,
                expose_value=False,
                callback=merge,
                help="Log every step and AWS call, and show tracebacks.",
            ),
            click.option(
                "--notify",
                metavar="URL",
                default=config.notify_url,
                expose_value=False,
                callback=merge_notify,
                help="Post pauses, completion and failure to this Slack-style incoming webhook (https://).",
            ),
            click.option(
                "--output",
                type=click.Choice(["text", "json"]),
                expose_value=False,
                callback=merge,
                help="Output format.",
            ),
        ]
    ):
        fn = option(fn)
    return fn


def opts() -> Options:
    return click.get_current_context().ensure_object(Options)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    if opts().output == "json":
        click.echo(json.dumps({"error": message}))
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(code)


def simulate_dir() -> str | None:
    """The rehearsal account the command runs against (--simulate, else RDS_MAINT_SIMULATE), or None: AWS."""
    return opts().simulate or config.rehearsal_dir()


def engine() -> Engine:
    try:
        if simulate_dir():
            from rds_maint import rehearsal

            return rehearsal.engine_on_account(simulate_dir() or "", opts().settings(), store_flag_given=opts().store)
        return opts().engine_factory(opts().settings())
    except BadInput as exc:
        fail(str(exc))


def exit_code(result: StepResult) -> int:
    if result.outcome is Outcome.COMPLETED:
        return EXIT_OK
    if result.outcome is Outcome.FAILED:
        return EXIT_FAILED
    if result.outcome is Outcome.INTERVENTION:
        return EXIT_PAUSED
    return EXIT_OK


def guard(fn: Callable[[], int]) -> NoReturn:
    """Run a command body: bad input exits 2, any other error exits 1, each as one line with its fix
    (module docstring); with --debug an unexpected error shows its traceback as well."""
    if opts().debug:
        from rds_maint import log

        log.configure_debug()
    try:
        code = fn()
    except BadInput as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except RdsMaintError as exc:
        fail(_with_connection_hint(exc), EXIT_FAILED)
    except (click.ClickException, click.exceptions.Abort, click.exceptions.Exit):
        raise  # click's own: it prints them and picks the exit code
    except Exception as exc:
        fail(_unexpected(exc), EXIT_FAILED)
    sys.exit(code)


def _with_connection_hint(exc: RdsMaintError) -> str:
    from rds_maint import credentials

    fix = credentials.connection_fix(exc)
    return f"{exc}; {fix}" if fix else str(exc)


def _unexpected(exc: Exception) -> str:
    """The line for an error no layer classified; the traceback goes to stderr first with --debug."""
    from rds_maint import credentials

    explained = credentials.explain("the AWS call", exc, opts().profile)
    if explained is not None:
        return str(explained)
    unreachable = credentials.unreachable(exc)
    if unreachable is not None:
        return unreachable
    if opts().debug:
        traceback.print_exception(exc, file=sys.stderr)
        return f"unexpected {type(exc).__name__}: {exc} (the traceback is above)"
    return f"unexpected {type(exc).__name__}: {exc} (run the command again with --debug for the traceback)"


def store_flag() -> str:
    """The flags a printed "carry on with" command needs to reach the same operation (store, rehearsal)."""
    from rds_maint.rehearsal import simulate_flag

    store = opts().store
    return simulate_flag(simulate_dir()) + (f" --store {store}" if store else "")


def print_result(result: StepResult) -> None:
    if opts().output == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    line = f"{result.operation_id}: {result.operation_state}"
    if result.step_name:
        line += f" at step {result.step_name} ({result.step_state})"
    click.echo(line)
    if result.pause_reason:
        click.echo(f"Paused: {result.pause_reason}")
    if result.error:
        click.echo(f"Error: {result.error}")
