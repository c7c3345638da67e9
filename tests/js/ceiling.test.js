// While the owner's monthly ceiling has closed the API, every call is API Gateway's own 429 ("throttled"): the page
// reads service-closed.json from its own origin and shows why, instead of "too many requests".
import assert from "node:assert/strict";
import { test } from "node:test";

import { closedSentence, createApiClient } from "../../frontend/js/api.js";

const jsonResponse = (status, body) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

const THROTTLED = {
  error: "throttled",
  message: "This API is answering as many requests as its owner allows right now, or is closed until its budget " +
    "resets. Try again in a minute.",
  request_id: "r-1",
};
const NOTICE = {
  closed_at: "2026-12-08T03:00:00+00:00",
  reason: "This month's AWS bill has reached the owner's monthly budget, so the service is closed until the budget " +
    "resets.",
  reopens_at: "2099-01-01T00:00:00+00:00",
};

function clientWith(notice) {
  const asked = [];
  const api = createApiClient({
    baseUrl: "https://api.test/Prod",
    timeoutMs: 30_000,
    origin: "https://page.test",
    localToken: "",
    fetchImpl: async (url) => {
      asked.push(url);
      if (url === "https://page.test/service-closed.json") {
        return notice ? jsonResponse(200, notice) : new Response("<Error/>", { status: 403 });
      }
      return jsonResponse(429, THROTTLED);
    },
  });
  return { api, asked };
}

test("a closed API says why and when it reopens, from the page's own service-closed.json", async () => {
  const { api, asked } = clientWith(NOTICE);
  await assert.rejects(api.request("/status"), (err) => {
    assert.equal(err.status, 429);
    assert.equal(err.code, "service_closed");
    assert.equal(err.message, `${NOTICE.reason} It reopens on 2099-01-01 at 00:00 UTC.`);
    return true;
  });
  assert.deepEqual(asked, ["https://api.test/Prod/status", "https://page.test/service-closed.json"]);
});

test("a plain throttle (no notice beside the page) keeps the too-many-requests sentence", async () => {
  const { api } = clientWith(null);
  await assert.rejects(api.request("/status"), (err) => {
    assert.equal(err.code, "throttled");
    assert.match(err.message, /^Too many requests right now\./);
    return true;
  });
});

test("a notice whose reopening has passed, or that is not a notice, is ignored", async () => {
  const fetchWith = (body) => async () => jsonResponse(200, body);
  assert.equal(await closedSentence("https://page.test", fetchWith({ ...NOTICE, reopens_at: "2020-01-01T00:00:00Z" })), "");
  assert.equal(await closedSentence("https://page.test", fetchWith({ reason: 42, reopens_at: NOTICE.reopens_at })), "");
  assert.equal(await closedSentence("", fetchWith(NOTICE)), "");
  assert.equal(await closedSentence("https://page.test", async () => { throw new TypeError("offline"); }), "");
});

test("the API's own 429s (rate limits, the GPU budget) never look for a notice", async () => {
  const asked = [];
  const api = createApiClient({
    baseUrl: "https://api.test/Prod",
    timeoutMs: 30_000,
    origin: "https://page.test",
    localToken: "",
    fetchImpl: async (url) => {
      asked.push(url);
      return jsonResponse(429, { error: "rate_limited", message: "Too many starts from here." });
    },
  });
  await assert.rejects(api.request("/start", { method: "POST", body: {} }), (err) => err.code === "rate_limited");
  assert.deepEqual(asked, ["https://api.test/Prod/start"]);
});
