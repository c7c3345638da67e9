"""A web page the developer happens to visit must not use their local runtime. In a real browser, a page from another
origin (a second web server on another port) tries what a page can do without the user: read /outbox, POST JSON
to /start (needs a preflight), POST `text/plain` and nothing at all with `no-cors` (no preflight), and submit a
form. A page after DNS rebinding (same origin as far as the browser knows, another Host header) tries the same.

The gateway is the real one; behind it is the Lambda's own resolver with its CORS (any origin), answering /status
and /start from a state that a start moves out of STOPPED. Each attack is also run where it must succeed (from the
gateway's own page, or with the rebinding name let in), so a browser that blocked it for another reason would
fail the test instead of passing it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig
from playwright.sync_api import Browser, Page

from local_runtime.gateway import Gateway
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

PHONE = "+15555550100"
REBIND_NAME = "rebind.test"
BROWSER_LOCAL_NETWORK_GUARDS = (
    "LocalNetworkAccessChecks",
    "PrivateNetworkAccessSendPreflights",
    "PrivateNetworkAccessRespectPreflightResults",
    "BlockInsecurePrivateNetworkRequests",
)

# Every attack records what the page could see; "blocked: ..." is what a browser says when it refuses to show it.
ATTACK_PAGE = """<!doctype html><meta charset="utf-8"><title>any site</title><body><script>
const gw = new URLSearchParams(location.search).get("gw") || location.origin;
window.results = {};
async function attempt(name, run) {
  try { window.results[name] = await run(); } catch (error) { window.results[name] = "blocked: " + error.name; }
}
function submitForm() {
  return new Promise((resolve) => {
    const frame = document.createElement("iframe");
    frame.name = "sink";
    document.body.appendChild(frame);
    const form = document.createElement("form");
    form.method = "POST"; form.action = gw + "/start"; form.enctype = "text/plain"; form.target = "sink";
    const input = document.createElement("input");
    input.name = '{"phone": "+15555550199", "x": "'; input.value = '"}';
    form.appendChild(input); document.body.appendChild(form);
    frame.addEventListener("load", () => resolve("submitted"));
    setTimeout(() => resolve("no answer"), 5000);
    form.submit();
  });
}
(async () => {
  await attempt("read_outbox", async () => "read: " + await (await fetch(gw + "/outbox")).text());
  await attempt("json_post", async () => {
    const answer = await fetch(gw + "/start", {method: "POST", headers: {"Content-Type": "application/json"},
                                                 body: JSON.stringify({phone: "+15555550199"})});
    return "read: " + answer.status;
  });
  await attempt("text_plain_post", async () => {
    await fetch(gw + "/start", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
                                body: JSON.stringify({phone: "+15555550199"})});
    return "sent";
  });
  await attempt("bodyless_post", async () => {
    await fetch(gw + "/start", {method: "POST", mode: "no-cors"});
    return "sent";
  });
  await attempt("form_post", submitForm);
  window.done = true;
})();
</script></body>
"""


@dataclass
class TinyApi:
    """The Lambda's resolver and CORS settings with a state item of one field; remembers every start."""

    state: str = "STOPPED"
    starts: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The same CORS the Lambda API answers with (functions/ondemand/handlers/api.py).
        app = APIGatewayRestResolver(cors=CORSConfig(allow_origin="*", allow_headers=["x-api-key"], max_age=300))

        @app.get("/status")
        def status() -> dict[str, Any]:
            return {"state": self.state}

        @app.post("/start")
        def start() -> dict[str, Any]:
            self.starts.append(app.current_event.raw_event)
            self.state = "STARTING"
            return {"state": self.state}

        self._app = app

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        return self._app.resolve(event, None)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "attack.html").write_text(ATTACK_PAGE)
    return tmp_path


@pytest.fixture
def tiny_api() -> TinyApi:
    return TinyApi()


@pytest.fixture
def gateway(site: Path, tiny_api: TinyApi) -> Iterator[Gateway]:
    """The gateway serves the attack page too, as its own page, for the runs that must succeed."""
    gateway = Gateway(
        api=tiny_api,
        static_dir=site,
        extra_routes={"/outbox": lambda: [{"phone": PHONE, "message": "Your model is ready."}]},
    )
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.close()


@pytest.fixture
def other_site(site: Path) -> Iterator[str]:
    """Another origin: a plain web server on another loopback port, serving the attack page."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def run_attack(page: Page, url: str) -> dict[str, str]:
    page.goto(url)
    page.wait_for_function("window.done === true", timeout=30_000)
    return page.evaluate("window.results")


def test_a_page_from_another_origin_can_neither_read_the_outbox_nor_start_the_model(
    page: Page, gateway: Gateway, other_site: str, tiny_api: TinyApi
) -> None:
    results = run_attack(page, f"{other_site}/attack.html?gw={gateway.base_url}")
    assert results["read_outbox"].startswith("blocked"), results
    assert results["json_post"].startswith("blocked"), results  # the preflight was refused
    assert tiny_api.starts == [] and tiny_api.state == "STOPPED", results
    assert json.loads(page.evaluate(f"fetch('{gateway.base_url}/status').then(r => r.text())")) == {
        "state": "STOPPED"
    }  # the state stays public, as on AWS

    # The same script from the gateway's own page reads the outbox and starts the model, with JSON or no body;
    # a text/plain or form body is refused there too.
    own = run_attack(page, f"{gateway.base_url}/attack.html")
    assert own["read_outbox"].startswith("read: ") and PHONE in own["read_outbox"], own
    assert own["json_post"] == "read: 200", own
    assert [start["body"] for start in tiny_api.starts] == ['{"phone":"+15555550199"}', None]
    assert tiny_api.state == "STARTING"


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing")
def test_a_page_after_dns_rebinding_gets_nothing(browser: Browser, gateway: Gateway, tiny_api: TinyApi) -> None:
    """The browser thinks the page and the gateway share an origin (rebind.test:PORT resolves to 127.0.0.1), so
    only the gateway's Host check stands in the way."""
    port = gateway.server_address[1]
    rebinding = browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            f"--host-resolver-rules=MAP {REBIND_NAME} 127.0.0.1",
            # Chromium's own guard (a page from a public address may not call loopback) would stop this attack
            # too; other browsers and older Chromiums have none. It is off here to test the gateway's.
            f"--disable-features={','.join(BROWSER_LOCAL_NETWORK_GUARDS)}",
        ],
    )
    try:
        page = rebinding.new_page()
        # The attacker's server served this page under the name before the name was pointed at 127.0.0.1.
        page.route(
            f"http://{REBIND_NAME}:{port}/attack.html",
            lambda route: route.fulfill(status=200, content_type="text/html", body=ATTACK_PAGE),
        )
        url = f"http://{REBIND_NAME}:{port}/attack.html"

        results = run_attack(page, url)
        assert results["read_outbox"].startswith('read: {"error": "host_not_allowed"'), results  # same origin: readable
        assert PHONE not in json.dumps(results)
        assert tiny_api.starts == [] and tiny_api.state == "STOPPED", results

        # Let the name in, and the same page reads the phone numbers: the Host check is what stopped it.
        gateway.allowed_hosts = gateway.allowed_hosts | {f"{REBIND_NAME}:{port}"}
        let_in = run_attack(page, url)
        assert PHONE in let_in["read_outbox"], let_in
    finally:
        rebinding.close()
