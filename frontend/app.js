// The page: shows the model's state, starts it, classifies reviews, and explains every failure in plain words.
// Plain browser JavaScript, no build step and no dependencies, so it works offline and from any static host.
"use strict";

(function () {
  const params = new URLSearchParams(window.location.search);
  // Opened straight from disk (file://) there is no same origin: assume `make demo`'s default address.
  const DEMO_API = "http://127.0.0.1:8000";
  const API_BASE = (params.get("api") || window.API_BASE || (window.location.protocol === "file:" ? DEMO_API : ""))
    .replace(/\/+$/, "");
  const TIMEOUT_MS = 1000 * (Number(params.get("timeout")) || Number(window.API_TIMEOUT_SECONDS) || 30);

  // Poll fast while the state is moving, slowly while it is settled.
  const POLL_MOVING_MS = 1000;
  const POLL_SETTLED_MS = 5000;
  const POLL_ERROR_MS = 5000;
  const TICK_MS = 500;

  // E.164: a plus, a country code that does not start with 0, 7 to 15 digits in all.
  const E164 = /^\+[1-9]\d{6,14}$/;

  const STATE_WORDS = {
    STOPPED: "Stopped",
    STARTING: "Starting",
    IN_SERVICE: "Ready",
    STOPPING: "Shutting down",
    FAILED: "Failed",
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    state: $("state"),
    stateDetail: $("state-detail"),
    progressBlock: $("progress-block"),
    progress: $("progress"),
    progressFill: $("progress-fill"),
    progressText: $("progress-text"),
    countdownBlock: $("countdown-block"),
    countdown: $("countdown"),
    extend: $("extend"),
    startForm: $("start-form"),
    phone: $("phone"),
    phoneError: $("phone-error"),
    start: $("start"),
    startMessage: $("start-message"),
    historyBlock: $("history-block"),
    history: $("history"),
    predictForm: $("predict-form"),
    reviews: $("reviews"),
    reviewCount: $("review-count"),
    predict: $("predict"),
    predictMessage: $("predict-message"),
    resultsBlock: $("results-block"),
    resultsMeta: $("results-meta"),
    results: $("results"),
    outboxBlock: $("outbox-block"),
    outbox: $("outbox"),
    connectionMessage: $("connection-message"),
    apiBase: $("api-base"),
  };

  /** An API failure carrying a sentence a person can act on. */
  class ApiError extends Error {
    constructor(message, { status = 0, code = "", body = null } = {}) {
      super(message);
      this.status = status;
      this.code = code;
      this.body = body;
    }
  }

  function apiDescription() {
    return API_BASE || window.location.origin;
  }

  function secondsText(total) {
    const s = Math.max(0, Math.round(total));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    const rest = s % 60;
    if (m < 60) return rest ? `${m} min ${rest} s` : `${m} min`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  function clockText(total) {
    const s = Math.max(0, Math.floor(total));
    const h = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
    const ss = String(s % 60).padStart(2, "0");
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  /** The sentence shown for an HTTP error, from the API's {"error","message"} body when there is one. */
  function friendlyMessage(status, body, retryAfter) {
    const serverSays = body && typeof body.message === "string" ? body.message : "";
    switch (status) {
      case 400:
        // The API counts texts from 0 ("Text 0 has ..."); people count reviews from 1.
        return serverSays
          ? serverSays.replace(/^Text (\d+)\b/, (_, n) => `Review ${Number(n) + 1}`)
          : "The request was not valid. Check what you typed and try again.";
      case 404:
        return serverSays || "The API does not know this address. Is the page pointed at the right API?";
      case 409:
        return serverSays || "Someone changed the model at the same moment. Please try again.";
      case 413:
        return "That is too much text in one go. Send fewer or shorter reviews.";
      case 429:
        return "Too many requests right now. Wait a few seconds and try again.";
      case 503: {
        const state = body && body.state;
        const wait = retryAfter ? ` Try again in about ${secondsText(retryAfter)}.` : "";
        if (state === "STOPPED") return "The model is not running. Click Start model, then try again once it is ready.";
        if (state === "FAILED") return "The model failed to start. Click Start model to try again.";
        if (state === "STARTING") return `The model is still starting.${wait || " Try again when it is ready."}`;
        if (state === "STOPPING") return "The model is shutting down. Start it again to keep classifying.";
        return serverSays || `The model is not available right now.${wait}`;
      }
      case 502:
        return `The model could not answer${serverSays ? ` (${serverSays})` : ""}. Please try again in a moment.`;
      case 504:
        return "The server took too long to answer. Please try again in a moment.";
      default:
        if (status >= 500) {
          return `The server had a problem (HTTP ${status})${serverSays ? `: ${serverSays}` : ""}. Please try again.`;
        }
        return serverSays || `Unexpected answer from the server (HTTP ${status}).`;
    }
  }

  /** One JSON request with a deadline. Resolves to {status, data, headers}; rejects with ApiError. */
  async function api(path, { method = "GET", body, timeoutMs = TIMEOUT_MS } = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      let response;
      let text;
      try {
        response = await fetch(API_BASE + path, {
          method,
          headers: body === undefined ? {} : { "Content-Type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: controller.signal,
          cache: "no-store",
        });
        text = await response.text();
      } catch (err) {
        if (err && err.name === "AbortError") {
          throw new ApiError(
            `The server did not answer within ${secondsText(timeoutMs / 1000)}. It may be busy; please try again.`,
            { code: "timeout" },
          );
        }
        throw new ApiError(
          `Cannot reach the API at ${apiDescription()}. Check that it is running and that this page may call it.`,
          { code: "network" },
        );
      }
      let data = null;
      if (text) {
        try {
          data = JSON.parse(text);
        } catch {
          data = null;
        }
      }
      if (!response.ok) {
        const retryAfter = Number(response.headers.get("Retry-After")) || 0;
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

  function showMessage(node, text, kind = "error") {
    if (!text) {
      node.hidden = true;
      node.textContent = "";
      return;
    }
    node.textContent = text;
    node.dataset.kind = kind;
    node.hidden = false;
  }

  // ---- state -------------------------------------------------------------------------------------------------

  let current = null; // the last /status answer
  let receivedAt = 0; // performance.now() when it arrived, to count down without asking the server
  let pollTimer = null;
  let pollGeneration = 0;

  function elapsedSinceReceipt() {
    return (performance.now() - receivedAt) / 1000;
  }

  function setStatus(status) {
    if (!status || typeof status.state !== "string") return;
    if (current && current.state !== status.state && el.startMessage.dataset.kind === "info") {
      showMessage(el.startMessage, ""); // "Starting…" and the like are stale once the state has moved
    }
    current = status;
    receivedAt = performance.now();
    render();
  }

  function render() {
    if (!current) return;
    const state = current.state;
    el.state.textContent = STATE_WORDS[state] || state;
    el.state.dataset.state = state;
    document.body.dataset.state = state;

    el.stateDetail.textContent = stateDetail(current);
    renderProgress();
    renderCountdown();
    renderStartButton();
    renderHistory(current.history);
  }

  function stateDetail(s) {
    const count = Number(s.subscribers_count) || 0;
    const who = count === 1 ? "1 phone number" : `${count} phone numbers`;
    switch (s.state) {
      case "STOPPED":
        return "Not running, and costing nothing. Click Start model to start it.";
      case "STARTING":
        return count ? `Starting. ${who} will get a text when it is ready.` : "Starting. You can classify reviews once it is ready.";
      case "IN_SERVICE":
        return "Ready. Classify reviews below.";
      case "STOPPING":
        return "Shutting down to stop the bill.";
      case "FAILED":
        return `It did not start${s.last_error ? `: ${s.last_error}` : "."} Click Start model to try again.`;
      default:
        return "";
    }
  }

  /** While starting: how far along, from `since` and the server's `eta_seconds` (seconds still to go). */
  function renderProgress() {
    const starting = current.state === "STARTING";
    el.progressBlock.hidden = !starting;
    if (!starting) return;
    const sinceMs = Date.parse(current.since || "");
    const elapsed = Number.isFinite(sinceMs) ? Math.max(0, (Date.now() - sinceMs) / 1000) : elapsedSinceReceipt();
    const eta = Number(current.eta_seconds);
    let percent;
    let text;
    if (Number.isFinite(eta) && eta >= 0) {
      const remaining = Math.max(0, eta - elapsedSinceReceipt());
      percent = elapsed + remaining > 0 ? (100 * elapsed) / (elapsed + remaining) : 99;
      text =
        remaining > 0
          ? `About ${secondsText(remaining)} to go (started ${secondsText(elapsed)} ago).`
          : `Taking a little longer than usual (started ${secondsText(elapsed)} ago).`;
    } else {
      percent = 50;
      text = `Started ${secondsText(elapsed)} ago.`;
    }
    percent = Math.min(99, Math.max(2, percent));
    el.progressFill.style.width = `${percent.toFixed(1)}%`;
    el.progress.setAttribute("aria-valuenow", String(Math.round(percent)));
    el.progressText.textContent = text;
  }

  function renderCountdown() {
    const running = current.state === "IN_SERVICE" && current.seconds_left !== null && current.seconds_left !== undefined;
    el.countdownBlock.hidden = !running;
    if (!running) return;
    const left = Number(current.seconds_left) - elapsedSinceReceipt();
    el.countdown.textContent = left > 0 ? clockText(left) : "any moment now";
  }

  function renderStartButton() {
    const state = current.state;
    el.startForm.hidden = state === "IN_SERVICE";
    el.start.disabled = startInFlight || state === "STOPPING";
    el.start.textContent = state === "STARTING" ? "Text me too" : "Start model";
  }

  function renderHistory(history) {
    if (!Array.isArray(history) || history.length === 0) {
      el.historyBlock.hidden = true;
      return;
    }
    el.historyBlock.hidden = false;
    const items = history.slice(-10).reverse().map((h) => {
      const li = document.createElement("li");
      const at = Date.parse(h.at);
      const time = Number.isFinite(at) ? new Date(at).toLocaleTimeString() : h.at;
      li.textContent = `${time}: ${h.from} → ${h.to}${h.reason ? ` (${h.reason})` : ""}`;
      return li;
    });
    el.history.replaceChildren(...items);
  }

  async function poll() {
    const generation = ++pollGeneration;
    clearTimeout(pollTimer);
    let delay = POLL_SETTLED_MS;
    try {
      const { data } = await api("/status");
      if (generation !== pollGeneration) return; // a newer poll has started; let it decide
      setStatus(data);
      showMessage(el.connectionMessage, "");
      delay = ["STARTING", "STOPPING"].includes(data.state) ? POLL_MOVING_MS : POLL_SETTLED_MS;
      if (data.state === "IN_SERVICE" && Number.isFinite(data.seconds_left) && data.seconds_left < 6) {
        delay = POLL_MOVING_MS; // the shutdown is due: show it when it happens, not up to 5 s later
      }
    } catch (err) {
      if (generation !== pollGeneration) return;
      showMessage(el.connectionMessage, `Cannot get the model's state. ${err.message}`);
      delay = POLL_ERROR_MS;
    }
    if (outboxEnabled !== false) refreshOutbox();
    pollTimer = setTimeout(poll, delay);
  }

  // ---- start and extend --------------------------------------------------------------------------------------

  let startInFlight = false;

  function normalisedPhone() {
    return el.phone.value.replace(/[\s().-]/g, "");
  }

  function validatePhone() {
    const phone = normalisedPhone();
    const valid = phone === "" || E164.test(phone);
    el.phone.setAttribute("aria-invalid", valid ? "false" : "true");
    el.phoneError.textContent = valid
      ? ""
      : "That does not look like an international number. Start with + and the country code, e.g. +15555550100.";
    return valid;
  }

  async function startModel(event) {
    event.preventDefault();
    if (!validatePhone()) {
      el.phone.focus();
      return;
    }
    const phone = normalisedPhone();
    if (!phone && current && current.state === "STARTING") {
      el.phoneError.textContent = "It is already starting. Enter a phone number to get a text when it is ready.";
      el.phone.focus();
      return;
    }
    startInFlight = true;
    el.start.disabled = true;
    showMessage(el.startMessage, "");
    try {
      const { status, data } = await api("/start", { method: "POST", body: phone ? { phone } : {} });
      setStatus(data);
      if (data.state === "IN_SERVICE") {
        const already = status === 200 ? "The model is already running" : "The model is ready";
        showMessage(el.startMessage, `${already}. Classify away.`, "info");
      } else {
        let text = "Starting. Keep this page open to see when it is ready.";
        if (phone && data.subscribed === false) {
          text = `Starting, but ${phone} could not be added to the people to text (the list is full). Keep this page open.`;
        } else if (phone) {
          text = `Starting. We will text ${phone} when it is ready.`;
        }
        showMessage(el.startMessage, text, "info");
      }
    } catch (err) {
      showMessage(el.startMessage, err.message);
    } finally {
      startInFlight = false;
      if (current) renderStartButton();
      else el.start.disabled = false;
      poll();
    }
  }

  async function extend() {
    el.extend.disabled = true;
    showMessage(el.startMessage, "");
    try {
      const { data } = await api("/extend", { method: "POST", body: {} });
      setStatus(data);
      if (data.seconds_left !== undefined && data.seconds_left !== null) {
        const how = data.capped ? "Extended as far as allowed" : "Extended";
        showMessage(el.startMessage, `${how}: it now shuts down in ${secondsText(data.seconds_left)}.`, "info");
      }
    } catch (err) {
      showMessage(el.startMessage, err.message);
    } finally {
      el.extend.disabled = false;
    }
  }

  // ---- predictions -------------------------------------------------------------------------------------------

  function reviewLines() {
    return el.reviews.value
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line.length > 0);
  }

  function updateReviewCount() {
    const n = reviewLines().length;
    el.reviewCount.textContent = n === 0 ? "" : n === 1 ? "1 review" : `${n} reviews`;
  }

  async function classify(event) {
    event.preventDefault();
    const texts = reviewLines();
    showMessage(el.predictMessage, "");
    if (texts.length === 0) {
      showMessage(el.predictMessage, "Type a review first (or several, one per line).");
      el.reviews.focus();
      return;
    }
    el.predict.disabled = true;
    el.predict.setAttribute("aria-busy", "true");
    const started = performance.now();
    try {
      const body = texts.length === 1 ? { text: texts[0] } : { texts };
      const { data } = await api("/predict", { method: "POST", body });
      renderResults(texts, data, performance.now() - started);
    } catch (err) {
      showMessage(el.predictMessage, err.message);
      el.resultsBlock.hidden = true; // results of an earlier request would read as answers to this one
      if (err.status === 503) {
        if (err.body && err.body.state) setStatus({ ...(current || {}), ...err.body });
        poll();
      }
    } finally {
      el.predict.disabled = false;
      el.predict.removeAttribute("aria-busy");
    }
  }

  function renderResults(texts, data, roundTripMs) {
    const predictions = Array.isArray(data.predictions) ? data.predictions : [];
    if (predictions.length !== texts.length) {
      showMessage(el.predictMessage, "The server answered with a different number of results than reviews sent.");
    }
    const items = predictions.map((p, i) => {
      const li = document.createElement("li");
      li.className = "result";
      const label = String(p.label || "?");
      li.dataset.label = label;

      const text = document.createElement("p");
      text.className = "result-text";
      text.textContent = texts[i] ?? "";

      const row = document.createElement("div");
      row.className = "result-row";
      const badge = document.createElement("span");
      badge.className = `label label-${label.toLowerCase()}`;
      badge.textContent = label;
      const prob = Math.min(1, Math.max(0, Number(p.prob) || 0));
      const bar = document.createElement("div");
      bar.className = "prob";
      bar.setAttribute("role", "meter");
      bar.setAttribute("aria-label", `Confidence in ${label}`);
      bar.setAttribute("aria-valuemin", "0");
      bar.setAttribute("aria-valuemax", "100");
      bar.setAttribute("aria-valuenow", String(Math.round(prob * 100)));
      const fill = document.createElement("div");
      fill.className = `prob-fill label-${label.toLowerCase()}`;
      fill.style.width = `${(prob * 100).toFixed(1)}%`;
      bar.append(fill);
      const pct = document.createElement("span");
      pct.className = "prob-text";
      pct.textContent = `${(prob * 100).toFixed(1)}%`;
      row.append(badge, bar, pct);

      li.append(text, row);
      return li;
    });
    el.results.replaceChildren(...items);
    const n = predictions.length;
    const parts = [`${n} ${n === 1 ? "review" : "reviews"} classified`];
    if (data.latency_ms !== undefined) parts.push(`model time ${Math.round(Number(data.latency_ms))} ms`);
    parts.push(`round trip ${Math.round(roundTripMs)} ms`);
    if (data.model) parts.push(`model ${data.model}`);
    el.resultsMeta.textContent = parts.join(" · ");
    el.resultsBlock.hidden = false;
  }

  // ---- local outbox (only where the local runtime serves one) ------------------------------------------------

  let outboxEnabled = null; // null: not asked yet; false: this API has no outbox
  let outboxInFlight = false;

  async function refreshOutbox() {
    if (outboxInFlight) return;
    outboxInFlight = true;
    try {
      const { data } = await api("/outbox", { timeoutMs: Math.min(TIMEOUT_MS, 5000) });
      if (!Array.isArray(data)) {
        outboxEnabled = false;
        return;
      }
      outboxEnabled = true;
      renderOutbox(data);
    } catch (err) {
      // The deployed API has no outbox (404/403), and a page on another origin may not read it (no CORS): stop
      // asking, unless the whole API is unreachable right now. Once it has answered, a failure is only a hiccup.
      const apiAnswers = el.connectionMessage.hidden;
      if (err.status === 404 || err.status === 403 || (outboxEnabled === null && apiAnswers)) outboxEnabled = false;
    } finally {
      outboxInFlight = false;
    }
  }

  function renderOutbox(messages) {
    el.outboxBlock.hidden = false;
    if (messages.length === 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "No texts yet. Enter a phone number and start the model to get one.";
      el.outbox.replaceChildren(li);
      return;
    }
    const items = messages
      .slice(-20)
      .reverse()
      .map((m) => {
        const li = document.createElement("li");
        li.className = m.ok === false ? "sms sms-failed" : "sms";
        const at = Date.parse(m.at);
        const head = document.createElement("span");
        head.className = "sms-head";
        const time = Number.isFinite(at) ? new Date(at).toLocaleTimeString() : "";
        const status = m.ok === false ? `not sent${m.detail ? `: ${m.detail}` : ""}` : "sent";
        head.textContent = `${time} to ${m.phone} via ${m.provider || "outbox"} (${status})`;
        const body = document.createElement("span");
        body.className = "sms-body";
        body.textContent = m.message;
        li.append(head, body);
        return li;
      });
    el.outbox.replaceChildren(...items);
  }

  // ---- wiring ------------------------------------------------------------------------------------------------

  el.apiBase.textContent = apiDescription();
  el.startForm.addEventListener("submit", startModel);
  el.phone.addEventListener("blur", validatePhone);
  el.phone.addEventListener("input", () => {
    if (el.phone.getAttribute("aria-invalid") === "true") validatePhone();
  });
  el.extend.addEventListener("click", extend);
  el.predictForm.addEventListener("submit", classify);
  el.reviews.addEventListener("input", updateReviewCount);
  setInterval(() => {
    if (!current) return;
    renderProgress();
    renderCountdown();
  }, TICK_MS);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) poll();
  });
  poll();
})();
