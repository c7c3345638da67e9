// The page's wiring: what it knows, when it asks the API, and what each button does. The words live in format.js
// and status.js, the HTTP client in api.js, the drawing in view.js.

import { apiBaseFrom, apiOverrideAllowed, createApiClient, timeoutMsFrom } from "./api.js";
import {
  codeProblem,
  codeSentMessage,
  confirmedMessage,
  confirmedPhone,
  forgetConfirmation,
  NEEDS_CONFIRMATION,
  normaliseCode,
  notifyText,
  savedConfirmation,
  saveConfirmation,
  shouldNotify,
  startBody,
} from "./consent.js";
import { answeredBy, normalisePhone, phoneProblem, resultsSummary, reviewLines } from "./format.js";
import { pipelineView } from "./pipeline.js";
import {
  budgetText,
  cooldownText,
  countdownText,
  extendedMessage,
  hasCountdown,
  nextPollDelayMs,
  POLL_ERROR_MS,
  startedMessage,
  startupProgress,
  stopNotice,
  tierNote,
} from "./status.js";
import {
  findElements,
  renderBudget,
  renderCodeProblem,
  renderCodeStep,
  renderCountdown,
  renderHistory,
  renderNotify,
  renderOutbox,
  renderPhoneProblem,
  renderPhoneStatus,
  renderPipeline,
  renderProgress,
  renderResults,
  renderReviewCount,
  renderStartButton,
  renderState,
  renderStopNotice,
  renderTierNote,
  showMessage,
} from "./view.js";

// The progress bar and the countdown move between polls, counted from the last answer.
const TICK_MS = 500;
const OUTBOX_TIMEOUT_MS = 5000;

const params = new URLSearchParams(window.location.search);
const api = createApiClient({
  baseUrl: apiBaseFrom(params, window.API_BASE, window.location),
  timeoutMs: timeoutMsFrom(params, window.API_TIMEOUT_SECONDS),
  origin: window.location.origin,
});
const el = findElements(document);

// ---- what the page knows ---------------------------------------------------------------------------------------

let current = null; // the last /status (or /start, /extend) answer
let receivedAt = 0; // performance.now() when it arrived, to count down without asking the server
let pollTimer = null;
let pollGeneration = 0; // a poll whose answer arrives after a newer poll started is ignored
let startInFlight = false;
let outboxEnabled = null; // null: not asked yet; true: this API has an outbox; false: it has none
let outboxInFlight = false;
let pipelineEnabled = null; // as outboxEnabled, for the local runtime's GET /pipeline
let pipelineInFlight = false;
let startBlockedReason = ""; // why Start is off while no GPU model is approved ("" when it may start)
let notifyArmed = false; // the reader asked for a browser notification when the model is ready
const storage = pageStorage(); // where the phone's confirmation is kept: this browser's own localStorage

/** localStorage, or a store for this page load where the browser refuses it (private mode, storage off). */
function pageStorage() {
  try {
    const local = window.localStorage;
    local.getItem("ondemand.probe");
    return local;
  } catch {
    const kept = new Map();
    return {
      getItem: (key) => (kept.has(key) ? kept.get(key) : null),
      setItem: (key, value) => kept.set(key, String(value)),
      removeItem: (key) => kept.delete(key),
    };
  }
}

function secondsSinceReceipt() {
  return (performance.now() - receivedAt) / 1000;
}

// ---- the model's state -----------------------------------------------------------------------------------------

function setStatus(status) {
  if (!status || typeof status.state !== "string") return;
  if (current && current.state !== status.state && el.startMessage.dataset.kind === "info") {
    showMessage(el.startMessage, ""); // "Starting…" and the like are stale once the state has moved
  }
  const previousState = current ? current.state : null;
  current = status;
  receivedAt = performance.now();
  render();
  if (shouldNotify(notifyArmed, previousState, status.state)) {
    notifyArmed = false; // once: the next start asks again
    showReadyNotification();
    renderNotify(el, "", false, notificationsAvailable());
  }
}

/** The parts that move between answers: the progress bar and the countdown. */
function renderClock() {
  const starting = current.state === "STARTING";
  renderProgress(
    el,
    starting ? startupProgress(current, { nowMs: Date.now(), secondsSinceReceipt: secondsSinceReceipt() }) : null,
  );
  renderCountdown(el, hasCountdown(current) ? countdownText(current.seconds_left, secondsSinceReceipt()) : null);
  renderStopNotice(el, stopNotice(current, secondsSinceReceipt()));
  renderBudget(el, budgetText(current.budget), cooldownText(current, Date.now()));
}

function render() {
  renderState(el, current);
  renderTierNote(el, tierNote(current));
  renderClock();
  renderStartButton(el, current.state, startInFlight, startBlockedReason);
  renderHistory(el, current.history);
}

async function poll() {
  const generation = ++pollGeneration;
  clearTimeout(pollTimer);
  let delay;
  try {
    const { data } = await api.request("/status");
    if (generation !== pollGeneration) return; // a newer poll has started; let it decide
    setStatus(data);
    showMessage(el.connectionMessage, "");
    delay = nextPollDelayMs(data);
  } catch (err) {
    if (generation !== pollGeneration) return;
    showMessage(el.connectionMessage, `Cannot get the model's state. ${err.message}`);
    delay = POLL_ERROR_MS;
  }
  if (outboxEnabled !== false) refreshOutbox();
  if (pipelineEnabled !== false) refreshPipeline();
  pollTimer = setTimeout(poll, delay);
}

// ---- start and extend ------------------------------------------------------------------------------------------

function validatePhone() {
  const problem = phoneProblem(normalisePhone(el.phone.value));
  renderPhoneProblem(el, problem);
  return !problem;
}

async function startModel(event) {
  event.preventDefault();
  if (!validatePhone()) {
    el.phone.focus();
    return;
  }
  const phone = normalisePhone(el.phone.value);
  if (!phone && current && current.state === "STARTING") {
    el.phoneError.textContent =
      "It is already starting. Confirm a phone number to get a text, or choose Notify this browser.";
    el.phone.focus();
    return;
  }
  const body = startBody(phone, savedConfirmation(storage, phone, Date.now()));
  if (body === null) {
    el.phoneError.textContent = NEEDS_CONFIRMATION;
    el.sendCode.focus();
    return;
  }
  startInFlight = true;
  el.start.disabled = true;
  showMessage(el.startMessage, "");
  try {
    const { status, data } = await api.request("/start", { method: "POST", body });
    setStatus(data);
    showMessage(el.startMessage, startedMessage(data, status, phone), "info");
  } catch (err) {
    if (err.code === "unconfirmed_phone") {
      forgetConfirmation(storage); // expired or no longer valid here: ask for a new code
      renderPhoneStatus(el, "");
    }
    showMessage(el.startMessage, err.message);
  } finally {
    startInFlight = false;
    if (current) renderStartButton(el, current.state, startInFlight, startBlockedReason);
    else el.start.disabled = false;
    poll();
  }
}

// ---- confirming a phone, and the phone-free browser notification ---------------------------------------------

async function sendCode() {
  if (!validatePhone()) {
    el.phone.focus();
    return;
  }
  const phone = normalisePhone(el.phone.value);
  if (!phone) {
    el.phoneError.textContent = "Type your phone number first, then click Send code.";
    el.phone.focus();
    return;
  }
  el.sendCode.disabled = true;
  try {
    await api.request("/phone/code", { method: "POST", body: { phone } });
    renderPhoneStatus(el, codeSentMessage(phone));
    renderCodeStep(el, true);
    el.code.focus();
  } catch (err) {
    el.phoneError.textContent = err.message;
  } finally {
    el.sendCode.disabled = false;
  }
}

async function confirmCode() {
  const phone = normalisePhone(el.phone.value);
  const code = normaliseCode(el.code.value);
  const problem = phone ? codeProblem(code) : "Type the phone number the code was sent to.";
  renderCodeProblem(el, problem);
  if (problem) {
    el.code.focus();
    return;
  }
  el.confirmCode.disabled = true;
  try {
    const { data } = await api.request("/phone/confirm", { method: "POST", body: { phone, code } });
    saveConfirmation(storage, phone, data);
    el.code.value = "";
    renderCodeStep(el, false);
    renderPhoneStatus(el, confirmedMessage(phone, data.expires_at));
    el.phoneError.textContent = "";
    el.start.focus();
  } catch (err) {
    renderCodeProblem(el, err.message);
  } finally {
    el.confirmCode.disabled = false;
  }
}

/** The phone box changed: say whether this number is confirmed in this browser. */
function phoneChanged() {
  const phone = normalisePhone(el.phone.value);
  const saved = savedConfirmation(storage, phone, Date.now());
  renderPhoneStatus(el, saved ? confirmedMessage(phone, saved.expires_at) : "");
  if (saved) renderCodeStep(el, false);
}

function notificationsAvailable() {
  return typeof window.Notification === "function";
}

async function askToNotify() {
  if (!notificationsAvailable()) {
    renderNotify(el, notifyText("unsupported", false), false, false);
    return;
  }
  let permission = window.Notification.permission;
  if (permission === "default") {
    try {
      permission = await window.Notification.requestPermission();
    } catch {
      permission = "denied";
    }
  }
  notifyArmed = permission === "granted";
  renderNotify(el, notifyText(permission, notifyArmed), notifyArmed, true);
}

function showReadyNotification() {
  try {
    new window.Notification("The sentiment model is ready", {
      body: "Classify your reviews on the page; it shuts itself down when the time runs out.",
      tag: "ondemand-ready",
    });
  } catch {
    // the browser refused at the last moment (permission withdrawn): the page itself still says Ready
  }
}

async function extend() {
  el.extend.disabled = true;
  el.noticeExtend.disabled = true;
  showMessage(el.startMessage, "");
  try {
    const { data } = await api.request("/extend", { method: "POST", body: {} });
    setStatus(data);
    const message = extendedMessage(data);
    if (message) showMessage(el.startMessage, message, "info");
  } catch (err) {
    showMessage(el.startMessage, err.message);
  } finally {
    el.extend.disabled = false;
    el.noticeExtend.disabled = false;
  }
}

// ---- predictions -----------------------------------------------------------------------------------------------

async function classify(event) {
  event.preventDefault();
  const texts = reviewLines(el.reviews.value);
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
    const { data } = await api.request("/predict", { method: "POST", body });
    showResults(texts, data, performance.now() - started);
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

function showResults(texts, data, roundTripMs) {
  const predictions = Array.isArray(data.predictions) ? data.predictions : [];
  if (predictions.length !== texts.length) {
    showMessage(el.predictMessage, "The server answered with a different number of results than reviews sent.");
  }
  const summary = resultsSummary({
    count: predictions.length,
    latencyMs: data.latency_ms,
    roundTripMs,
    model: data.model,
  });
  renderResults(el, texts, predictions, summary, answeredBy(data));
}

// ---- the local outbox (only where the local runtime serves one) ------------------------------------------------

async function refreshOutbox() {
  if (outboxInFlight) return;
  outboxInFlight = true;
  try {
    const { data } = await api.request("/outbox", { timeoutMs: Math.min(api.timeoutMs, OUTBOX_TIMEOUT_MS) });
    if (!Array.isArray(data)) {
      outboxEnabled = false;
      return;
    }
    outboxEnabled = true;
    renderOutbox(el, data);
  } catch (err) {
    // The deployed API has no outbox (404/403), and a page on another origin may not read it (no CORS): stop
    // asking, unless the whole API is unreachable right now. Once it has answered, a failure is only a hiccup.
    const apiAnswers = el.connectionMessage.hidden;
    if (err.status === 404 || err.status === 403 || (outboxEnabled === null && apiAnswers)) outboxEnabled = false;
  } finally {
    outboxInFlight = false;
  }
}

// ---- the local runtime's model pipeline (a deployed stack has none) -------------------------------------------

async function refreshPipeline() {
  if (pipelineInFlight) return;
  pipelineInFlight = true;
  try {
    const { data } = await api.request("/pipeline", { timeoutMs: Math.min(api.timeoutMs, OUTBOX_TIMEOUT_MS) });
    pipelineEnabled = true;
    const view = pipelineView(data);
    renderPipeline(el, view);
    startBlockedReason = view ? view.startBlocked : "";
  } catch (err) {
    // As for the outbox: 404 on the deployed stack (403 from API Gateway for an unknown route) means no pipeline.
    const apiAnswers = el.connectionMessage.hidden;
    if (err.status === 404 || err.status === 403 || (pipelineEnabled === null && apiAnswers)) {
      pipelineEnabled = false;
      renderPipeline(el, null);
      startBlockedReason = "";
    }
  } finally {
    pipelineInFlight = false;
    if (current) renderStartButton(el, current.state, startInFlight, startBlockedReason);
  }
}

// ---- wiring ----------------------------------------------------------------------------------------------------

el.apiBase.textContent = api.description;
if (params.get("api") && !apiOverrideAllowed(window.location)) {
  showMessage(
    el.apiNote,
    "This page ignores the api= part of its address: only a page running on this machine may be pointed at " +
      "another API, so that a link cannot send your phone number and reviews elsewhere.",
    "info",
  );
}
el.startForm.addEventListener("submit", startModel);
el.sendCode.addEventListener("click", sendCode);
el.confirmCode.addEventListener("click", confirmCode);
el.code.addEventListener("keydown", (event) => {
  if (event.key === "Enter") {
    event.preventDefault(); // Enter in the code box confirms the code, it does not start the model
    confirmCode();
  }
});
el.phone.addEventListener("input", phoneChanged); // while typing: a line hidden on blur would move Start under the click
el.notify.addEventListener("click", askToNotify);
if (!el.phone.value) el.phone.value = confirmedPhone(storage, Date.now());
phoneChanged();
renderNotify(el, notificationsAvailable() ? "" : notifyText("unsupported", false), false, notificationsAvailable());
el.phone.addEventListener("blur", validatePhone);
el.phone.addEventListener("input", () => {
  if (el.phone.getAttribute("aria-invalid") === "true") validatePhone();
});
el.extend.addEventListener("click", extend);
el.noticeExtend.addEventListener("click", extend);
el.predictForm.addEventListener("submit", classify);
el.reviews.addEventListener("input", () => renderReviewCount(el, reviewLines(el.reviews.value).length));
setInterval(() => {
  if (current) renderClock();
}, TICK_MS);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) poll();
});
poll();
