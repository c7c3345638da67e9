"""The embedded default, assembled: local adapters plugged into the lifecycle handlers from `functions/`.

The handlers are the Lambda handlers, called the way AWS calls them: API Gateway proxy events from the gateway,
EventBridge events from the bus (routed by the template's rule pattern), the schedule's payload from the timer,
a scheduled event from the reconciler's rate loop. The settings are built here in code (`local_settings`, the demo's
values) and passed with the local adapters to the same `bootstrap` Lambda uses; nothing is read from or written to
this process's environment for them."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ondemand.adapters.dynamodb import DynamoStateStore
from ondemand.adapters.instant import FolderInstantModel
from ondemand.adapters.rate_limit import DynamoRateLimiter, DynamoTextClaims
from ondemand.adapters.sms import TextbeltNotifier
from ondemand.bootstrap import Service, bootstrap
from ondemand.domain import LifecycleError
from ondemand.handlers import api, endpoint_events, reconciler, teardown, texts
from ondemand.observability import logger as lambda_logger
from ondemand.ports import Adapters, Notifier
from ondemand.settings import Settings

from local_runtime.background_pipeline import BackgroundPipeline
from local_runtime.cfn_template import load_template, rule_patterns, schedule_rate
from local_runtime.endpoints import (
    REPO_ROOT,
    CommandFactory,
    LocalEndpointControl,
    ModelServerSpawner,
    Spawner,
    SpawnerWhenModelReady,
    SubprocessSpawner,
)
from local_runtime.event_bus import LocalEventBus, Rule
from local_runtime.gateway import Gateway, proxy_event
from local_runtime.lambda_invoke import HandlerInvoker
from local_runtime.model_pipeline import gpu_model_ready, instant_model_dir
from local_runtime.outbox import PRIVATE_FILE_MODE, OutboxNotifier, mask_phone, read_outbox
from local_runtime.scheduler import LocalScheduler, RateLoop
from local_runtime.state_server import LocalStateServer
from local_runtime.text_queue import LocalTextQueue

log = logging.getLogger(__name__)

API_HANDLER = "ondemand.handlers.api.handler"
ENDPOINT_EVENTS_HANDLER = "ondemand.handlers.endpoint_events.handler"
TEARDOWN_HANDLER = "ondemand.handlers.teardown.handler"
RECONCILER_HANDLER = "ondemand.handlers.reconciler.handler"
TEXTS_HANDLER = "ondemand.handlers.texts.handler"
RUNTIME_FILE = "runtime.json"
PEPPER_FILE = "rate-limit-pepper"
LOCAL_START_SECONDS = 5  # what a start takes here with a cached model, for the page's progress bar
LOCAL_REGION = "us-east-1"
STATE_TABLE = "ondemand-sentiment-state"
RATE_LIMIT_TABLE = "ondemand-sentiment-rate-limits"  # LocalStateServer creates it
CHILD_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
"""For the model-server processes (they inherit this process's environment): no hub at run time."""


@dataclass
class RuntimeConfig:
    """Everything the embedded default can be told; the CLI flags map one to one."""

    model_dir: Path
    var_dir: Path = REPO_ROOT / "var" / "local_runtime"
    host: str = "127.0.0.1"
    port: int = 0
    provisioning_delay: float = 0.0
    reconcile_every: float | None = None  # None: the template's rate()
    textbelt_key: str | None = None
    admin_key: str | None = None  # the x-api-key POST /stop wants (the dashboard's Stop button); None: /stop is off
    static_dir: Path = REPO_ROOT / "frontend"
    model_command: CommandFactory | None = None  # None: the pipeline's model server on model_dir
    fork_server: bool = True  # fork model servers from a warm interpreter (fast starts); False: a fresh one each time
    lambda_log_level: str = "WARNING"  # the handlers' Powertools logger; the console says what matters
    token: str | None = None
    """The gateway's token (X-Local-Token, in the printed page URL); None: a random one for this run."""
    settings: dict[str, Any] = field(default_factory=dict)
    """The product's settings the flags set, by `Settings` field and in its unit (`keep_alive_minutes=0.5`); every
    other one keeps its declared default (ondemand/settings.py), but for the demo's own (`local_settings`)."""
    extra_env: dict[str, str] = field(default_factory=dict)
    """Extra environment for the model-server processes."""
    instant_model_dir: Path | None = None
    """The instant model's folder; None: beside model_dir, where the local model pipeline publishes it."""
    pipeline_profile: str | None = None
    """Train the models in the background with this profile if none good enough is cached (GET /pipeline shows the
    progress); None: model_dir is used as it is."""
    pipeline_command: list[str] | None = None
    """The background pipeline's command (tests); None: `python -m local_runtime.model_pipeline`."""


def local_settings(config: RuntimeConfig, dynamodb_url: str, page_url: str | None = None) -> Settings:
    """The demo stack's settings: the names the local servers use, the product's defaults with the flags' values
    over them, and what the demo does differently from the stack: the progress bar counts down a local start, texts go
    to the outbox (and Textbelt with a key), and a teardown has no cooldown, so the demo may restart at once. The
    scheduler ARNs are never used here (the local scheduler fires the teardown itself)."""
    demo = Settings(
        table_name=STATE_TABLE,
        region=LOCAL_REGION,
        endpoint_name_prefix="ondemand-sentiment",
        instance_type="local",
        approved_model_parameter="local",
        schedule_group_name="local",
        scheduler_role_arn=None,
        teardown_function_arn=None,
        dynamodb_endpoint_url=dynamodb_url,
        rate_limit_table_name=RATE_LIMIT_TABLE,
        typical_provisioning_seconds=int(config.provisioning_delay) + LOCAL_START_SECONDS,
        sms_provider="textbelt" if config.textbelt_key else "none",
        page_url=page_url,
        cooldown_minutes=0,
    )
    return dataclasses.replace(demo, **config.settings)


def local_pepper(var_dir: Path) -> str:
    """The rate-limit keys' HMAC pepper, the local stand-in for the stack's Secrets Manager secret: made at random on
    the first run in a 0600 file, then reused. A file others can read is refused rather than used."""
    path = var_dir / PEPPER_FILE
    try:
        created = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            raise PermissionError(
                f"{path} is readable by other users; delete it (a new one is made) or chmod 600 it"
            ) from None
        return path.read_text().strip()
    pepper = secrets.token_hex(32)
    with open(created, "w") as private:
        private.write(pepper)
    return pepper


def scheduled_event(rule_name: str, region: str = "us-east-1") -> dict[str, Any]:
    """The "Scheduled Event" EventBridge delivers for a rate() rule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:000000000000:rule/{rule_name}"],
        "detail": {},
    }


class LocalRuntime:
    """Start with `start()`, stop with `close()` (stops every model server it started)."""

    def __init__(self, config: RuntimeConfig, say: Callable[[str], None] = print) -> None:
        self.config = config
        self._say = say
        self.outbox_path = config.var_dir / "outbox.jsonl"
        self.invoke = HandlerInvoker()
        self.service: Service | None = None
        self.state_server: LocalStateServer | None = None
        self.bus: LocalEventBus | None = None
        self.spawner: Spawner | None = None
        self.endpoints: LocalEndpointControl | None = None
        self.scheduler: LocalScheduler | None = None
        self.reconciler: RateLoop | None = None
        self.text_queue: LocalTextQueue | None = None
        self.gateway: Gateway | None = None
        self.pipeline: BackgroundPipeline | None = None
        # Per run, never written anywhere another user can read: the gateway's token (the developer gets it in the
        # printed URL) and the model servers' (only the endpoint adapter sends it). The state store makes its own key.
        self.token = config.token or secrets.token_urlsafe(32)
        self._model_token = secrets.token_urlsafe(32)

    @property
    def base_url(self) -> str:
        assert self.gateway is not None, "start() first"
        return self.gateway.base_url

    @property
    def page_url(self) -> str:
        """The page's URL with this run's token: the one to open."""
        assert self.gateway is not None, "start() first"
        return self.gateway.page_url

    def start(self) -> None:
        config = self.config
        config.var_dir.mkdir(parents=True, exist_ok=True)
        log_dir = config.var_dir / "logs"
        # First, so the fork server imports torch while the rest starts (once there is a GPU model to preload).
        self.spawner = spawner = (
            SubprocessSpawner(config.model_command, token=self._model_token)
            if config.model_command
            else SpawnerWhenModelReady(
                lambda: ModelServerSpawner(config.model_dir, log_dir, token=self._model_token, fork=config.fork_server)
            )
        )
        if isinstance(spawner, SpawnerWhenModelReady) and gpu_model_ready(config.model_dir):
            spawner.activate()
        os.environ.update({**CHILD_ENVIRONMENT, **config.extra_env})  # for the model servers, not for this process
        lambda_logger.setLevel(config.lambda_log_level)
        # Bound now (served below, once the handlers exist), so the notice text can link to the page.
        self.gateway = Gateway(
            api=lambda event: self.invoke(API_HANDLER, event),
            static_dir=config.static_dir,
            extra_routes={"/outbox": lambda: read_outbox(self.outbox_path)},
            host=config.host,
            port=config.port,
            token=self.token,
        )
        self.state_server = LocalStateServer(table_name=STATE_TABLE)
        settings = local_settings(config, self.state_server.start(), page_url=self.gateway.base_url + "/")
        if config.pipeline_profile is not None:
            self.pipeline = BackgroundPipeline(
                config.pipeline_profile,
                config.model_dir,
                config.var_dir,
                on_ready=self._gpu_model_ready,
                command=config.pipeline_command,
            )
            self.gateway.extra_routes["/pipeline"] = self.pipeline.status

        template = load_template()
        rules = [Rule(pattern, ENDPOINT_EVENTS_HANDLER) for pattern in rule_patterns(template, ENDPOINT_EVENTS_HANDLER)]
        self.bus = LocalEventBus(rules, self.invoke, on_delivered=self._delivered)
        self.endpoints = LocalEndpointControl(
            spawner,
            emit=self.bus.put,
            log_dir=log_dir,
            provisioning_delay=config.provisioning_delay,
            model_ready=self._model_ready,
            model_token=self._model_token,
        )
        self.scheduler = LocalScheduler(fire=self._teardown)
        self.outbox_path.write_text("")  # a fresh state store each run, so a fresh outbox: old texts name old endpoints
        pepper = local_pepper(config.var_dir)
        notifier = OutboxNotifier(
            self.outbox_path, provider=self._sms_provider(settings), provider_name="textbelt", on_send=self._sent
        )
        adapters = Adapters(
            store=DynamoStateStore(
                settings.table_name,
                settings.dynamodb_endpoint_url,
                settings.region,
                settings.history_limit,
                credentials=self.state_server.credentials,
            ),
            endpoints=self.endpoints,
            scheduler=self.scheduler,
            notifier=notifier,
            rate_limiter=DynamoRateLimiter(
                RATE_LIMIT_TABLE,
                lambda: pepper,
                settings.dynamodb_endpoint_url,
                settings.region,
                credentials=self.state_server.credentials,
            ),
            admin_api_key=lambda: self.config.admin_key,
            instant_model=FolderInstantModel(config.instant_model_dir or instant_model_dir(config.model_dir)),
            # Texts are queued and sent by the sender's handler on a thread of their own, as SQS and its function do.
            text_queue=(text_queue := LocalTextQueue()),
            text_claims=DynamoTextClaims(
                RATE_LIMIT_TABLE,
                lambda: pepper,
                settings.dynamodb_endpoint_url,
                settings.region,
                credentials=self.state_server.credentials,
            ),
        )
        self.service = service = bootstrap(settings, adapters)
        for name, module in (
            (API_HANDLER, api),
            (ENDPOINT_EVENTS_HANDLER, endpoint_events),
            (TEARDOWN_HANDLER, teardown),
            (RECONCILER_HANDLER, reconciler),
            (TEXTS_HANDLER, texts),
        ):
            self.invoke.register(name, module.make_handler(service))
        self.text_queue = text_queue
        text_queue.start(lambda event: self.invoke(TEXTS_HANDLER, event))

        # One request through the API at start, like a health check: the first /start then finds pynamodb's and
        # botocore's clients built instead of paying for them (about a second on a busy machine).
        self.invoke(API_HANDLER, proxy_event("GET", "/status", {}, b"", "127.0.0.1"))
        # The instant model too, if it is published: loading it (checksum, canary) is most of a first answer's time.
        try:
            adapters.instant_model.answer(["warm-up"])
        except LifecycleError:
            log.warning("the instant model could not be loaded", exc_info=True)

        interval = config.reconcile_every or schedule_rate(template, RECONCILER_HANDLER)
        self.reconciler = RateLoop(
            interval, lambda: self.invoke(RECONCILER_HANDLER, scheduled_event("reconciler")), name="reconciler"
        )
        self.reconciler.start()
        self.gateway.start()
        if self.pipeline is not None:
            self.pipeline.start()
            if self.pipeline.running:
                self._say(
                    "Training the models in the background (GET /pipeline): the instant CPU model answers "
                    "/predict within a minute or two, Start works once the GPU model is trained."
                )
        if self._model_ready():
            self._say("Warming up the model server's libraries (torch, transformers), so a start takes seconds ...")
            spawner.warm_up(timeout=300)
        self._write_runtime_file()

    def close(self) -> None:
        """Stop accepting requests, cancel timers, stop every model server, then the state store."""
        for part in (
            self.gateway,
            self.pipeline,
            self.reconciler,
            self.text_queue,
            self.scheduler,
            self.endpoints,
            self.spawner,
            self.bus,
            self.state_server,
        ):
            if part is not None:
                started = time.monotonic()
                try:
                    part.close()
                except Exception:
                    log.exception("stopping %s failed", type(part).__name__)
                log.info("stopped %s in %.1f s", type(part).__name__, time.monotonic() - started)
        (self.config.var_dir / RUNTIME_FILE).unlink(missing_ok=True)

    def __enter__(self) -> LocalRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- adapters that come from functions/ -------------------------------------------------------------------

    def _sms_provider(self, settings: Settings) -> Notifier | None:
        """The lifecycle's Textbelt adapter when a key is configured; otherwise the outbox is the only provider."""
        key = self.config.textbelt_key
        if not key:
            return None
        return TextbeltNotifier(lambda: key, settings.textbelt_url)

    def _model_ready(self) -> bool:
        """Is there a GPU model to serve? A custom model command (tests) always has one."""
        return self.config.model_command is not None or gpu_model_ready(self.config.model_dir)

    def _gpu_model_ready(self) -> None:
        """The background pipeline published the GPU model: warm the model server up; Start works now."""
        if isinstance(self.spawner, SpawnerWhenModelReady):
            self.spawner.activate()
        self._say("The GPU model is trained: Start works now (no restart needed).")

    # --- console -------------------------------------------------------------------------------------------

    def _delivered(self, event: dict[str, Any], target: str) -> None:
        detail = event.get("detail", {})
        status = detail.get("EndpointStatus")
        if status is None or self.endpoints is None:
            return
        line = f"endpoint {detail['EndpointName']}: {status}"
        endpoint = self.endpoints.endpoint(detail["EndpointName"])
        if status == "IN_SERVICE" and endpoint is not None:
            line += f" - IN_SERVICE {time.monotonic() - endpoint.created_monotonic:.1f} s after /start"
        if detail.get("FailureReason"):
            line += f" ({detail['FailureReason']})"
        self._say(line)

    def _teardown(self, payload: dict[str, Any]) -> None:
        """The one-time schedule's target, as EventBridge Scheduler would invoke it; the console says what it did."""
        answer = self.invoke(TEARDOWN_HANDLER, payload)
        outcome = answer.get("outcome", answer) if isinstance(answer, dict) else answer
        self._say(f"keep-alive schedule for {payload.get('endpoint_name')} fired: {outcome}")

    def _sent(self, entry: dict[str, Any]) -> None:
        outcome = "sent" if entry["ok"] else f"NOT sent ({entry['detail']})"
        self._say(f"SMS to {mask_phone(entry['phone'])} via {entry['provider']} {outcome}: {entry['message']}")

    def _write_runtime_file(self) -> None:
        """Where everything listens, for tests, the benchmark and the dashboard (`make dashboard` reads the token here).
        Mode 0600: it holds the admin key and the gateway's token."""
        assert self.gateway is not None and self.state_server is not None
        info = {
            "base_url": self.base_url,
            "page_url": self.page_url,
            "token": self.token,
            "outbox": str(self.outbox_path),
            "state_store_url": self.state_server.url,
            "pid": os.getpid(),
            "model_dir": str(self.config.model_dir),
            "admin_key": self.config.admin_key,
        }
        path = self.config.var_dir / RUNTIME_FILE
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)  # O_EXCL below: never write the admin key into a file someone else made
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE), "w") as private:
            private.write(json.dumps(info, indent=2))
        tmp.replace(path)
