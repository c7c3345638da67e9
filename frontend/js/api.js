// The page's one HTTP client: where the API is, how long to wait, and a sentence a person can act on for every way
// a request can fail. No DOM here, so node's test runner checks it with a fake fetch (tests/js/).

import { localAndUtcTime, secondsText } from "./format.js";

const DEFAULT_TIMEOUT_SECONDS = 30;

/** An API failure carrying a sentence a person can act on. */
export class ApiError extends Error {
  constructor(message, { status = 0, code = "", body = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Whether this page may take its API from `?api=`: only when the page itself runs on this machine (loopback or
 * file:). On a public host a crafted link could otherwise send a visitor's phone number and reviews anywhere.
 */
export function apiOverrideAllowed(pageLocation) {
  return pageLocation.protocol === "file:" || LOOPBACK_HOSTS.has(pageLocation.hostname);
}

/**
 * The API's base URL, without trailing slashes: `?api=` for this visit where `apiOverrideAllowed`, else
 * `window.API_BASE` from config.js, else "" (the origin that served the page, as the local gateway does).
 */
export function apiBaseFrom(searchParams, configuredBase, pageLocation) {
  const override = apiOverrideAllowed(pageLocation) ? searchParams.get("api") : "";
  return (override || configuredBase || "").replace(/\/+$/, "");
}

/** The header carrying the local runtime's token (local_runtime/gateway.py); the deployed API has no token. */
export const LOCAL_TOKEN_HEADER = "X-Local-Token";
const LOCAL_TOKEN_KEY = "ondemand.localToken";

/**
 * The local runtime's token, as Jupyter hands it over: the runtime prints the page's URL with `?token=`. Read once
 * from the URL, kept for this tab (sessionStorage), and taken out of the address bar (so it is not bookmarked, shared
 * or shown); a reload finds it in the tab's storage. "" where there is none (the deployed page, a test in node).
 */
export function takeLocalToken(pageLocation, storage, history) {
  if (!pageLocation || !pageLocation.href) return "";
  let url;
  try {
    url = new URL(pageLocation.href);
  } catch {
    return "";
  }
  const fromUrl = url.searchParams.get("token");
  if (!fromUrl) {
    try {
      return (storage && storage.getItem(LOCAL_TOKEN_KEY)) || "";
    } catch {
      return ""; // storage refused (a sandboxed frame): no token, the API says what is missing
    }
  }
  try {
    if (storage) storage.setItem(LOCAL_TOKEN_KEY, fromUrl);
  } catch {
    // kept for this page load only
  }
  url.searchParams.delete("token");
  try {
    if (history) history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  } catch {
    // the address bar keeps it; nothing else changes
  }
  return fromUrl;
}

/** This tab's sessionStorage, or null where reading it throws (storage blocked for the page). */
function tabStorage() {
  try {
    return globalThis.sessionStorage || null;
  } catch {
    return null;
  }
}

/** The token goes only to the page's own origin: `?api=` may point the page at another loopback port. */
function sameOrigin(baseUrl, origin) {
  if (!baseUrl) return true;
  try {
    return new URL(baseUrl).origin === origin;
  } catch {
    return false;
  }
}

/** Milliseconds to wait for one answer: `?timeout=<seconds>`, else `window.API_TIMEOUT_SECONDS`, else 30 s. */
export function timeoutMsFrom(searchParams, configuredSeconds) {
  return 1000 * (Number(searchParams.get("timeout")) || Number(configuredSeconds) || DEFAULT_TIMEOUT_SECONDS);
}

/**
 * The sentence shown for an HTTP error, from the API's {"error","message"} body when there is one. `timeZone` is for
 * tests; the page shows times in the reader's own zone.
 */
export function friendlyMessage(status, body, retryAfterSeconds, { timeZone } = {}) {
  const serverSays = body && typeof body.message === "string" ? body.message : "";
  const code = body && typeof body.error === "string" ? body.error : "";
  switch (status) {
    case 400:
      // The API counts texts from 0 ("Text 0 has ..."); people count reviews from 1.
      return serverSays
        ? serverSays.replace(/^Text (\d+)\b/, (_, n) => `Review ${Number(n) + 1}`)
        : "The request was not valid. Check what you typed and try again.";
    case 404:
      return serverSays || "The API does not know this address. Is the page pointed at the right API?";
    case 409:
      if (code === "no_recent_use") {
        return "Extend works while someone is using the model: classify a review first, then extend.";
      }
      return serverSays || "Someone changed the model at the same moment. Please try again.";
    case 413:
      return "That is too much text in one go. Send fewer or shorter reviews.";
    case 429:
      return tooManyMessage(code, body, retryAfterSeconds, timeZone);
    case 503:
      return notAvailableMessage(body && body.state, serverSays, retryAfterSeconds);
    case 502: {
      const detail = serverSays ? ` (${withoutFinalStop(serverSays)})` : "";
      return `The model could not answer${detail}. Please try again in a moment.`;
    }
    case 504:
      return "The server took too long to answer. Please try again in a moment.";
    default:
      if (status >= 500) {
        const detail = serverSays ? `: ${withoutFinalStop(serverSays)}` : "";
        return `The server had a problem (HTTP ${status})${detail}. Please try again.`;
      }
      return serverSays || `Unexpected answer from the server (HTTP ${status}).`;
  }
}

/** A 429: the daily GPU budget is spent, a start right after a teardown, or too many requests. */
function tooManyMessage(code, body, retryAfterSeconds, timeZone) {
  if (code === "budget_exhausted") {
    const resets = localAndUtcTime(body.resets_at, { timeZone });
    return "Today's GPU time is used up, so the GPU model cannot run any longer today." +
      (resets ? ` It resets at ${resets}.` : " It resets at midnight UTC.");
  }
  if (code === "cooling_down") {
    const seconds = Number(body.retry_after_seconds) || retryAfterSeconds;
    const when = seconds ? `in about ${secondsText(seconds)}` : "in a few minutes";
    return `The GPU model has just shut down and needs a short pause. You can start it again ${when}.`;
  }
  const wait = retryAfterSeconds ? `Try again in about ${secondsText(retryAfterSeconds)}.` : "Wait a little and try again.";
  return `Too many requests right now. ${wait}`;
}

/** The API's sentences end with a full stop; quoted inside ours, that would make "broke.. Please". */
function withoutFinalStop(sentence) {
  return sentence.replace(/\.+$/, "");
}

/** A 503: no tier may answer. What to do depends on the model's state, which the API sends with it. */
function notAvailableMessage(state, serverSays, retryAfterSeconds) {
  const wait = retryAfterSeconds ? ` Try again in about ${secondsText(retryAfterSeconds)}.` : "";
  switch (state) {
    case "STOPPED":
      return "The model is not running. Click Start model, then try again once it is ready.";
    case "FAILED":
      return "The model failed to start. Click Start model to try again.";
    case "STARTING":
      return `The model is still starting.${wait || " Try again when it is ready."}`;
    case "STOPPING":
      return "The model is shutting down. Start it again to keep classifying.";
    default:
      return serverSays || `The model is not available right now.${wait}`;
  }
}

function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * API Gateway's own 429 ("throttled") also answers every request while the owner's monthly ceiling has closed the
 * API; then the stack's CeilingFunction has put service-closed.json ({closed_at, reason, reopens_at}) beside the page.
 * Its `reason` sentence and when it reopens, or "" when there is no such file (a plain throttle, the local runtime) or
 * it has expired.
 */
export async function closedSentence(origin, fetchImpl, now = new Date()) {
  if (!origin) return "";
  try {
    const response = await fetchImpl(`${origin}/service-closed.json`, { cache: "no-store" });
    const notice = response.ok ? parseJson(await response.text()) : null;
    const reopens = notice && new Date(notice.reopens_at);
    if (!notice || typeof notice.reason !== "string" || !(reopens > now)) return "";
    const utc = reopens.toISOString(); // the 1st of a month, midnight UTC: the date matters more than the hour
    return `${notice.reason} It reopens on ${utc.slice(0, 10)} at ${utc.slice(11, 16)} UTC.`;
  } catch {
    return "";
  }
}

/**
 * A client for the API at `baseUrl` ("" is the page's own origin, `origin`, which error messages then name).
 * `request(path, {method, body, timeoutMs})` resolves to {status, data, headers} and rejects with ApiError.
 * `localToken` (by default the page URL's `?token=`, see takeLocalToken) goes in `X-Local-Token` on every call to the
 * page's own origin; without one the header is absent, as on AWS.
 */
export function createApiClient({
  baseUrl,
  timeoutMs,
  origin,
  fetchImpl = (...args) => globalThis.fetch(...args),
  localToken = takeLocalToken(globalThis.location, tabStorage(), globalThis.history),
}) {
  const description = baseUrl || origin;
  const tokenHeader = localToken && sameOrigin(baseUrl, origin) ? { [LOCAL_TOKEN_HEADER]: localToken } : {};

  async function send(path, { method, body, signal, deadlineMs }) {
    try {
      const response = await fetchImpl(baseUrl + path, {
        method,
        headers: body === undefined ? { ...tokenHeader } : { "Content-Type": "application/json", ...tokenHeader },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: "no-store",
      });
      return { response, text: await response.text() };
    } catch {
      if (signal.aborted) {
        throw new ApiError(
          `The server did not answer within ${secondsText(deadlineMs / 1000)}. It may be busy; please try again.`,
          { code: "timeout" },
        );
      }
      throw new ApiError(
        `Cannot reach the API at ${description}. Check that it is running and that this page may call it.`,
        { code: "network" },
      );
    }
  }

  async function request(path, { method = "GET", body, timeoutMs: deadlineMs = timeoutMs } = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), deadlineMs);
    try {
      const { response, text } = await send(path, { method, body, signal: controller.signal, deadlineMs });
      const data = parseJson(text);
      if (!response.ok) {
        const retryAfter = Number(response.headers.get("Retry-After")) || 0;
        const closed = data && data.error === "throttled" ? await closedSentence(origin, fetchImpl) : "";
        if (closed) throw new ApiError(closed, { status: response.status, code: "service_closed", body: data });
        throw new ApiError(friendlyMessage(response.status, data, retryAfter), {
          status: response.status,
          code: data && data.error ? data.error : "",
          body: data,
        });
      }
      if (data === null && response.status !== 204) {
        throw new ApiError("The server sent an answer this page cannot read. Is the API address right?", {
          status: response.status,
          code: "bad_response",
        });
      }
      return { status: response.status, data, headers: response.headers };
    } finally {
      clearTimeout(timer);
    }
  }

  return { request, description, timeoutMs };
}
