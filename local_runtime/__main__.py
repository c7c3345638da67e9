"""`python -m local_runtime`: make the model if none is cached, start everything on loopback, print the URLs,
and stop every child process on Ctrl-C or SIGTERM.

The product's settings the demo exposes are flags made from their declarations (functions/ondemand/settings.py):
default, help, bounds and choices come from there; a time takes a duration (`--keep-alive 2m`). Every flag also reads
the variable of its name when it is not given (`--keep-alive`: KEEP_ALIVE), so `make demo KEEP_ALIVE=2m` needs no
Makefile line of its own."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from ondemand.settings import DECLARED, SECONDS_PER_UNIT, Setting, declared, shown

from local_runtime.durations import format_duration, parse_duration
from local_runtime.endpoints import REPO_ROOT, free_port, stop_process
from local_runtime.fork_server import die_with_parent
from local_runtime.runtime import LocalRuntime, RuntimeConfig

DASHBOARD_SCRIPT = REPO_ROOT / "frontend" / "dashboard" / "app.py"


class Shutdown(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM so setup and waiting unwind through `finally`."""


def duration(text: str) -> float:
    """argparse type: seconds in `90`, `30s`, `2m`, `1h`, with the accepted forms in the error."""
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def flag_variable(flag: str) -> str:
    """The environment variable a flag defaults from: `--keep-alive` reads KEEP_ALIVE."""
    return flag.removeprefix("--").replace("-", "_").upper()


def as_flag(setting: Setting, value: Any) -> str:
    """A setting's value as its flag takes it: a time as a duration (`30m`), anything else as the README shows it."""
    return format_duration(value * SECONDS_PER_UNIT[setting.unit]) if setting.unit else shown(value)


def setting_type(setting: Setting) -> Callable[[str], Any]:
    """argparse type of a setting's flag: a time takes a duration (`30m`, `90s`), converted to the setting's unit;
    anything else reads as the Lambda reads it. Either way the declared bounds hold."""

    def convert(text: str) -> Any:
        try:
            if setting.unit is None:
                return setting.value_of(text, "the value")
            value = duration(text) / SECONDS_PER_UNIT[setting.unit]
            setting.check(value, f"the duration in {setting.unit}")
            return value
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """A flag for every setting declared with one (ondemand/settings.py), its default and help from the declaration."""
    group = parser.add_argument_group("the product's settings", "as the stack's (functions/ondemand/settings.py)")
    for setting in DECLARED:
        if setting.flag is None:
            continue
        variable = flag_variable(setting.flag)
        group.add_argument(
            setting.flag,
            dest=setting.name,
            type=setting_type(setting),
            default=os.environ.get(variable) or setting.default,
            choices=setting.choices,
            metavar="DURATION" if setting.unit else "N" if setting.kind in (int, float) else None,
            help=f"{setting.help} (env {variable}, default {as_flag(setting, setting.default)})".replace("%", "%%"),
        )


def setting_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the flags set, by `Settings` field (RuntimeConfig.settings)."""
    return {setting.name: getattr(args, setting.name) for setting in DECLARED if setting.flag}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local_runtime", description=__doc__)
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", 8000)),
        help="gateway port (web page + API); 0 picks a free one (default 8000, env PORT)",
    )
    parser.add_argument(
        "--provisioning-delay",
        type=duration,
        default=os.environ.get("PROVISIONING_DELAY", "0"),
        help="extra wait before the model server starts, to mimic SageMaker, e.g. 30s",
    )
    parser.add_argument(
        "--profile",
        default=os.environ.get("PROFILE", "quick"),
        help="model pipeline profile trained in the background when no model is cached "
        "(tiny|quick|full); GET /pipeline shows its progress",
    )
    parser.add_argument(
        "--model-dir", type=Path, default=None, help="model folder (default: the pipeline's cache for the profile)"
    )
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=REPO_ROOT / "var" / "local_runtime",
        help="outbox, logs and runtime.json go here",
    )
    parser.add_argument(
        "--reconcile-every", type=duration, default=None, help="reconciler period (default: the template's rate())"
    )
    parser.add_argument(
        "--dashboard",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also start the Streamlit dashboard if it is installed",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request and handler")
    add_setting_flags(parser)
    return parser.parse_args(argv)


def model_source(profile: str, model_dir: Path | None) -> tuple[Path, str | None]:
    """(model folder, profile to train in the background or None). A model folder given on the command line is used
    as it is; otherwise the pipeline's cache, trained in the background if it holds no good enough model."""
    if model_dir is not None and (model_dir / "config.json").exists():
        return model_dir, None
    from local_runtime.model_pipeline import DEFAULT_MODEL_DIR

    return model_dir or DEFAULT_MODEL_DIR, profile


def start_dashboard(api_url: str, admin_key: str | None, token: str) -> tuple[subprocess.Popen[bytes], str] | None:
    """The Streamlit dashboard as a child process, when its script and streamlit are both present."""
    if not DASHBOARD_SCRIPT.exists() or importlib.util.find_spec("streamlit") is None:
        return None
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(DASHBOARD_SCRIPT),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        # The environment, not the command line: /proc/PID/environ is the developer's alone, cmdline is everyone's.
        env={
            **os.environ,
            "ONDEMAND_API_URL": api_url,
            "ONDEMAND_ADMIN_KEY": admin_key or "",
            "ONDEMAND_LOCAL_TOKEN": token,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    return process, f"http://127.0.0.1:{port}/"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            return  # already shutting down; let the cleanup finish
        stopping.set()
        raise Shutdown(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    runtime: LocalRuntime | None = None
    dashboard: tuple[subprocess.Popen[bytes], str] | None = None
    try:
        model_dir, pipeline_profile = model_source(args.profile, args.model_dir)
        config = RuntimeConfig(
            model_dir=model_dir,
            var_dir=args.var_dir,
            port=args.port,
            pipeline_profile=pipeline_profile,
            provisioning_delay=args.provisioning_delay,
            reconcile_every=args.reconcile_every,
            textbelt_key=os.environ.get("TEXTBELT_KEY"),
            admin_key=os.environ.get("ONDEMAND_ADMIN_KEY") or secrets.token_urlsafe(18),
            settings=setting_flags(args),
            lambda_log_level="INFO" if args.verbose else os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        )
        runtime = LocalRuntime(config, say=lambda line: print(line, flush=True))
        try:
            runtime.start()
        except OSError as error:
            print(
                f"Cannot start the gateway on port {args.port}: {error}. "
                "Try --port 0 (make demo PORT=0) for a free port.",
                file=sys.stderr,
            )
            return 2
        dashboard = start_dashboard(runtime.base_url, config.admin_key, runtime.token) if args.dashboard else None
        print(
            f"""
Local runtime ready (no AWS account needed). Model: {model_dir}
  web page     {runtime.page_url}
               (open this URL: it carries this run's token, which everything but the page and /status needs)
  API          {runtime.base_url}/status   (POST /start, /predict, /extend with the header X-Local-Token: the token)
  SMS outbox   {runtime.base_url}/outbox   (file {runtime.outbox_path}; needs the token too)
  dashboard    {dashboard[1] if dashboard else "not started (streamlit or frontend/dashboard/app.py missing)"}
  state store  {runtime.state_server.url if runtime.state_server else "?"}   (DynamoDB API on moto)
  pipeline     {runtime.base_url + "/pipeline" if runtime.pipeline else "not running (--model-dir given)"}
Keep-alive {as_flag(declared("keep_alive_minutes"), args.keep_alive_minutes)}, provisioning delay \
{format_duration(args.provisioning_delay)}, notice {as_flag(declared("notice_minutes"), args.notice_minutes)}, instant \
tier {args.instant_tier}.
Ctrl-C stops everything.""",
            flush=True,
        )
        stopping.wait()
    except Shutdown as reason:
        print(f"\n{reason}: stopping ...", flush=True)
    finally:
        if dashboard:
            stop_process(dashboard[0], timeout=5)
        if runtime:
            runtime.close()
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
