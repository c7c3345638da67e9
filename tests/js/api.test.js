// The sentence a person reads for each way an API call can go wrong, and where the page sends its requests.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  ApiError,
  apiBaseFrom,
  apiOverrideAllowed,
  createApiClient,
  friendlyMessage,
  timeoutMsFrom,
} from "../../frontend/js/api.js";

const jsonResponse = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

/** A client whose fetch answers with `respond(url, init)` and records every call. */
function clientAnswering(respond, { baseUrl = "http://api.test", timeoutMs = 30_000 } = {}) {
  const calls = [];
  const api = createApiClient({
    baseUrl,
    timeoutMs,
    origin: "http://page.test",
    fetchImpl: async (url, init) => {
      calls.push({ url, init });
      return respond(url, init);
    },
  });
  return { api, calls };
}

const onLocalhost = new URL("http://127.0.0.1:8000/");
const onPublicHost = new URL("https://reviews.example.com/");

test("on this machine ?api= beats config.js, and trailing slashes are dropped; neither means the page's origin", () => {
  assert.equal(apiBaseFrom(new URLSearchParams("api=https://x.example/Prod/"), "https://config.example", onLocalhost),
    "https://x.example/Prod");
  assert.equal(apiBaseFrom(new URLSearchParams(""), "https://config.example//", onLocalhost), "https://config.example");
  assert.equal(apiBaseFrom(new URLSearchParams(""), "", onLocalhost), "");
  assert.equal(apiBaseFrom(new URLSearchParams(""), undefined, onLocalhost), "");
});

test("?api= is honoured only on localhost, 127.0.0.1, [::1] or file:, so a link cannot redirect a visitor's data", () => {
  const crafted = new URLSearchParams("api=https://attacker.example");
  assert.equal(apiBaseFrom(crafted, "https://config.example", onPublicHost), "https://config.example");
  assert.equal(apiBaseFrom(crafted, "", onPublicHost), "");
  for (const page of ["http://localhost:8000/", "http://127.0.0.1/", "http://[::1]:8080/", "file:///tmp/index.html"]) {
    assert.equal(apiBaseFrom(crafted, "", new URL(page)), "https://attacker.example", page);
  }
  // Look-alikes of loopback are public hosts.
  for (const page of ["http://127.0.0.1.attacker.example/", "http://localhost.example/", "http://10.0.0.1/"]) {
    assert.equal(apiOverrideAllowed(new URL(page)), false, page);
  }
});

test("the deadline is ?timeout= seconds, else config.js, else 30 s", () => {
  assert.equal(timeoutMsFrom(new URLSearchParams("timeout=1"), 30), 1000);
  assert.equal(timeoutMsFrom(new URLSearchParams(""), 10), 10_000);
  assert.equal(timeoutMsFrom(new URLSearchParams("timeout=soon"), undefined), 30_000);
});

test("400: the server's own sentence, with reviews counted from 1 as people count them", () => {
  const body = { error: "text_too_long", message: "Text 1 has 2345 characters; the limit is 2000." };
  assert.equal(friendlyMessage(400, body), "Review 2 has 2345 characters; the limit is 2000.");
  assert.equal(friendlyMessage(400, null), "The request was not valid. Check what you typed and try again.");
});

test("503 says what to do for the model's state", () => {
  assert.match(friendlyMessage(503, { state: "STOPPED" }), /not running\. Click Start model/);
  assert.match(friendlyMessage(503, { state: "FAILED" }), /failed to start/);
  const starting = { state: "STARTING" };
  assert.equal(friendlyMessage(503, starting, 30), "The model is still starting. Try again in about 30 s.");
  assert.equal(friendlyMessage(503, starting, 0), "The model is still starting. Try again when it is ready.");
  assert.match(friendlyMessage(503, { state: "STOPPING" }), /shutting down/);
  assert.equal(friendlyMessage(503, {}, 90), "The model is not available right now. Try again in about 1 min 30 s.");
});

test("other statuses: too much text, rate limits, conflicts, server errors", () => {
  assert.match(friendlyMessage(413, { message: "Body too large." }), /too much text in one go/);
  assert.match(friendlyMessage(429, { message: "Budget spent." }), /Too many requests/);
  assert.equal(friendlyMessage(409, {}), "Someone changed the model at the same moment. Please try again.");
  assert.match(friendlyMessage(404, null), /right API/);
  assert.equal(friendlyMessage(500, { message: "Something broke." }),
    "The server had a problem (HTTP 500): Something broke. Please try again.");
  assert.equal(friendlyMessage(502, { message: "The model server crashed." }),
    "The model could not answer (The model server crashed). Please try again in a moment.");
  assert.match(friendlyMessage(504, null), /took too long/);
  assert.equal(friendlyMessage(418, null), "Unexpected answer from the server (HTTP 418).");
});

test("429: a spent daily budget says when it resets, in the reader's time and UTC", () => {
  const body = { error: "budget_exhausted", message: "Budget spent.", resets_at: "2026-01-02T00:00:00Z" };
  assert.equal(friendlyMessage(429, body, 3600, { timeZone: "Asia/Kolkata" }),
    "Today's GPU time is used up, so the GPU model cannot run any longer today. " +
    "It resets at 05:30 your time (00:00 UTC).");
  assert.equal(friendlyMessage(429, body, 3600, { timeZone: "UTC" }),
    "Today's GPU time is used up, so the GPU model cannot run any longer today. It resets at 00:00 UTC.");
  assert.match(friendlyMessage(429, { error: "budget_exhausted" }), /resets at midnight UTC\.$/);
});

test("429: a start right after a teardown says how long to wait; a plain rate limit too", () => {
  assert.equal(friendlyMessage(429, { error: "cooling_down", retry_after_seconds: 125 }, 125),
    "The GPU model has just shut down and needs a short pause. You can start it again in about 2 min 5 s.");
  assert.match(friendlyMessage(429, { error: "cooling_down" }, 40), /again in about 40 s\.$/);
  assert.equal(friendlyMessage(429, { error: "rate_limited" }, 90),
    "Too many requests right now. Try again in about 1 min 30 s.");
});

test("409 no_recent_use: Extend needs a prediction first", () => {
  assert.equal(friendlyMessage(409, { error: "no_recent_use", message: "Extend works while someone is using it." }),
    "Extend works while someone is using the model: classify a review first, then extend.");
});

test("a request goes to the API's base URL as JSON and resolves to the answer", async () => {
  const { api, calls } = clientAnswering(() => jsonResponse(202, { state: "STARTING" }));
  const { status, data } = await api.request("/start", { method: "POST", body: { phone: "+15555550100" } });
  assert.equal(status, 202);
  assert.deepEqual(data, { state: "STARTING" });
  assert.equal(calls[0].url, "http://api.test/start");
  assert.equal(calls[0].init.method, "POST");
  assert.equal(calls[0].init.headers["Content-Type"], "application/json");
  assert.equal(calls[0].init.body, '{"phone":"+15555550100"}');
});

test("an error answer rejects with the friendly sentence, the status, the code and the body", async () => {
  const { api } = clientAnswering(() =>
    jsonResponse(503, { error: "model_not_ready", message: "The model is not in service.", state: "STARTING" },
      { "Retry-After": "30" }));
  await assert.rejects(api.request("/predict", { method: "POST", body: { text: "Fine." } }), (err) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.message, "The model is still starting. Try again in about 30 s.");
    assert.equal(err.status, 503);
    assert.equal(err.code, "model_not_ready");
    assert.equal(err.body.state, "STARTING");
    return true;
  });
});

test("an answer that is not JSON (a wrong address serving HTML) is said to be unreadable", async () => {
  const { api } = clientAnswering(() => new Response("<html>hello</html>", { status: 200 }));
  await assert.rejects(api.request("/status"), /cannot read\. Is the API address right\?/);
});

test("an unreachable API is named in the message; with no base URL that is the page's origin", async () => {
  const refuse = () => Promise.reject(new TypeError("fetch failed"));
  await assert.rejects(clientAnswering(refuse).api.request("/status"),
    { message: /^Cannot reach the API at http:\/\/api\.test\./, code: "network" });
  await assert.rejects(clientAnswering(refuse, { baseUrl: "" }).api.request("/status"),
    { message: /^Cannot reach the API at http:\/\/page\.test\./ });
});

test("no answer within the deadline is a timeout, in seconds", async () => {
  // A server that never answers: the fetch settles only when the page gives up and aborts it.
  const never = (_url, init) => new Promise((_resolve, reject) => {
    init.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
  });
  const { api } = clientAnswering(never, { timeoutMs: 1000 });
  await assert.rejects(api.request("/predict", { method: "POST", body: { text: "x" } }),
    { message: "The server did not answer within 1 s. It may be busy; please try again.", code: "timeout" });
});
