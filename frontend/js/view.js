// Everything the page draws: each function takes the page's elements and what to show, and keeps no state.

import { maskPhone, percentText, probability, reviewCountText } from "./format.js";
import { stateDetail, stateWord } from "./status.js";

// The element ids index.html must have, by the name the code uses.
const ELEMENT_IDS = {
  state: "state",
  stateDetail: "state-detail",
  tierNote: "tier-note",
  noticeBanner: "notice-banner",
  noticeText: "notice-text",
  noticeExtend: "notice-extend",
  budgetBlock: "budget-block",
  budget: "budget",
  cooldown: "cooldown",
  pipelineBlock: "pipeline-block",
  pipelineProgress: "pipeline-progress",
  pipelineFill: "pipeline-fill",
  pipelineText: "pipeline-text",
  startBlocked: "start-blocked",
  resultsTier: "results-tier",
  progressBlock: "progress-block",
  progress: "progress",
  progressFill: "progress-fill",
  progressText: "progress-text",
  countdownBlock: "countdown-block",
  countdown: "countdown",
  extend: "extend",
  startForm: "start-form",
  phone: "phone",
  phoneError: "phone-error",
  sendCode: "send-code",
  codeBlock: "code-block",
  code: "code",
  codeError: "code-error",
  confirmCode: "confirm-code",
  phoneStatus: "phone-status",
  notify: "notify",
  notifyStatus: "notify-status",
  start: "start",
  startMessage: "start-message",
  historyBlock: "history-block",
  history: "history",
  predictForm: "predict-form",
  reviews: "reviews",
  reviewCount: "review-count",
  predict: "predict",
  predictMessage: "predict-message",
  resultsBlock: "results-block",
  resultsMeta: "results-meta",
  results: "results",
  outboxBlock: "outbox-block",
  outbox: "outbox",
  connectionMessage: "connection-message",
  apiBase: "api-base",
  apiNote: "api-note",
};

/** The page's elements by name; a missing one is a broken page, said at once rather than on first use. */
export function findElements(doc) {
  const elements = {};
  for (const [name, id] of Object.entries(ELEMENT_IDS)) {
    const node = doc.getElementById(id);
    if (!node) throw new Error(`The page has no element #${id}; index.html and js/view.js disagree.`);
    elements[name] = node;
  }
  return elements;
}

/** Show `text` in a message paragraph ("error" or "info"), or hide it when there is no text. */
export function showMessage(node, text, kind = "error") {
  if (!text) {
    node.hidden = true;
    node.textContent = "";
    return;
  }
  node.textContent = text;
  node.dataset.kind = kind;
  node.hidden = false;
}

export function renderState(el, status) {
  el.state.textContent = stateWord(status.state);
  el.state.dataset.state = status.state;
  el.state.ownerDocument.body.dataset.state = status.state;
  el.stateDetail.textContent = stateDetail(status);
}

/** `progress` is {percent, text} while starting, null otherwise (the bar is hidden). */
export function renderProgress(el, progress) {
  el.progressBlock.hidden = !progress;
  if (!progress) return;
  el.progressFill.style.width = `${progress.percent.toFixed(1)}%`;
  el.progress.setAttribute("aria-valuenow", String(Math.round(progress.percent)));
  el.progressText.textContent = progress.text;
}

/** `text` is the time left, or null when there is no countdown to show. */
export function renderCountdown(el, text) {
  el.countdownBlock.hidden = text === null;
  if (text !== null) el.countdown.textContent = text;
}

/**
 * Start is hidden while the model runs, disabled while a start is sent or it shuts down, and disabled with the reason
 * beside it while there is no GPU model to start (`blockedReason`, "" otherwise).
 */
export function renderStartButton(el, state, startInFlight, blockedReason = "") {
  el.startForm.hidden = state === "IN_SERVICE";
  el.start.disabled = startInFlight || state === "STOPPING" || (Boolean(blockedReason) && state !== "STARTING");
  el.start.textContent = state === "STARTING" ? "Text me too" : "Start model";
  el.startBlocked.textContent = state === "STARTING" ? "" : blockedReason;
  el.startBlocked.hidden = !el.startBlocked.textContent;
}

/** A line of text that hides itself when there is nothing to say. */
function renderLine(node, text) {
  node.textContent = text;
  node.hidden = !text;
}

export function renderTierNote(el, text) {
  renderLine(el.tierNote, text);
}

/** `notice` is {text} from notice_at until expires_at, null otherwise. */
export function renderStopNotice(el, notice) {
  el.noticeBanner.hidden = !notice;
  // Rewritten only when it changes: the banner is an alert, and screen readers announce every rewrite.
  if (notice && el.noticeText.textContent !== notice.text) el.noticeText.textContent = notice.text;
}

export function renderBudget(el, budgetLine, cooldownLine) {
  renderLine(el.budget, budgetLine);
  renderLine(el.cooldown, cooldownLine);
  el.budgetBlock.hidden = !budgetLine && !cooldownLine;
}

/** `view` is pipelineView()'s {percent, text} or null (hidden). */
export function renderPipeline(el, view) {
  el.pipelineBlock.hidden = !view;
  if (!view) return;
  el.pipelineProgress.hidden = view.percent === null;
  if (view.percent !== null) {
    el.pipelineFill.style.width = `${view.percent.toFixed(1)}%`;
    el.pipelineProgress.setAttribute("aria-valuenow", String(Math.round(view.percent)));
  }
  el.pipelineText.textContent = view.text;
}

function localTime(iso, fallback) {
  const at = Date.parse(iso);
  return Number.isFinite(at) ? new Date(at).toLocaleTimeString() : fallback;
}

/** The last ten state changes, newest first. */
export function renderHistory(el, history) {
  if (!Array.isArray(history) || history.length === 0) {
    el.historyBlock.hidden = true;
    return;
  }
  el.historyBlock.hidden = false;
  const doc = el.history.ownerDocument;
  const items = history
    .slice(-10)
    .reverse()
    .map((h) => {
      const li = doc.createElement("li");
      li.textContent = `${localTime(h.at, h.at)}: ${h.from} → ${h.to}${h.reason ? ` (${h.reason})` : ""}`;
      return li;
    });
  el.history.replaceChildren(...items);
}

export function renderPhoneProblem(el, problem) {
  el.phone.setAttribute("aria-invalid", problem ? "true" : "false");
  el.phoneError.textContent = problem;
}

/** The code step: shown once a code was asked for, hidden once the number is confirmed. */
export function renderCodeStep(el, visible) {
  el.codeBlock.hidden = !visible;
  if (!visible) renderCodeProblem(el, "");
}

export function renderCodeProblem(el, problem) {
  el.code.setAttribute("aria-invalid", problem ? "true" : "false");
  el.codeError.textContent = problem;
}

/** Where the phone's confirmation stands, in a sentence ("" hides the line). */
export function renderPhoneStatus(el, text) {
  renderLine(el.phoneStatus, text);
}

/** The browser-notification choice: its sentence, and the button pressed while armed (or off where impossible). */
export function renderNotify(el, text, armed, available) {
  renderLine(el.notifyStatus, text);
  el.notify.setAttribute("aria-pressed", armed ? "true" : "false");
  el.notify.disabled = !available;
}

export function renderReviewCount(el, count) {
  el.reviewCount.textContent = reviewCountText(count);
}

function resultItem(doc, text, prediction) {
  const label = String(prediction.label || "?");
  const kind = `label-${label.toLowerCase()}`;
  const prob = probability(prediction);

  const li = doc.createElement("li");
  li.className = "result";
  li.dataset.label = label;

  const paragraph = doc.createElement("p");
  paragraph.className = "result-text";
  paragraph.textContent = text ?? "";

  const badge = doc.createElement("span");
  badge.className = `label ${kind}`;
  badge.textContent = label;

  const bar = doc.createElement("div");
  bar.className = "prob";
  bar.setAttribute("role", "meter");
  bar.setAttribute("aria-label", `Confidence in ${label}`);
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-valuenow", String(Math.round(prob * 100)));
  const fill = doc.createElement("div");
  fill.className = `prob-fill ${kind}`;
  fill.style.width = percentText(prob);
  bar.append(fill);

  const pct = doc.createElement("span");
  pct.className = "prob-text";
  pct.textContent = percentText(prob);

  const row = doc.createElement("div");
  row.className = "result-row";
  row.append(badge, bar, pct);
  li.append(paragraph, row);
  if (prediction.scored_by === "linear") {
    // The GPU tier skips the transformer where the linear model is confident beyond its reach: say so.
    const note = doc.createElement("p");
    note.className = "result-scorer muted";
    note.textContent = "Clear-cut: the linear model decided this one alone; the transformer was not run.";
    li.append(note);
  }
  return li;
}

/**
 * One result per review: the review, its label, and a bar for the probability; above them which model answered
 * (`tier` is {kind: "gpu" | "instant" | "degraded" | "", text}).
 */
export function renderResults(el, texts, predictions, summary, tier) {
  const doc = el.results.ownerDocument;
  el.results.replaceChildren(...predictions.map((p, i) => resultItem(doc, texts[i], p)));
  el.resultsMeta.textContent = summary;
  renderLine(el.resultsTier, tier.text);
  el.resultsTier.dataset.tier = tier.kind;
  el.resultsBlock.hidden = false;
}

/** The local runtime's SMS outbox, newest first (at most twenty). */
export function renderOutbox(el, messages) {
  const doc = el.outbox.ownerDocument;
  el.outboxBlock.hidden = false;
  if (messages.length === 0) {
    const li = doc.createElement("li");
    li.className = "muted";
    li.textContent = "No texts yet. Enter a phone number and start the model to get one.";
    el.outbox.replaceChildren(li);
    return;
  }
  const items = messages
    .slice(-20)
    .reverse()
    .map((m) => {
      const failed = m.ok === false;
      const li = doc.createElement("li");
      li.className = failed ? "sms sms-failed" : "sms";
      const head = doc.createElement("span");
      head.className = "sms-head";
      const outcome = failed ? `not sent${m.detail ? `: ${m.detail}` : ""}` : "sent";
      head.textContent = `${localTime(m.at, "")} to ${maskPhone(m.phone)} via ${m.provider || "outbox"} (${outcome})`;
      const body = doc.createElement("span");
      body.className = "sms-body";
      body.textContent = m.message;
      li.append(head, body);
      return li;
    });
  el.outbox.replaceChildren(...items);
}
