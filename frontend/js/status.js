// What the API's answers about the model mean to a person: the state in words, start-up progress, the countdown to
// the shutdown, how soon to ask again, and the sentences after Start and Extend. Pure functions (tests/js/).

import { clockText, localAndUtcTime, minutesText, secondsText } from "./format.js";

// Ask every second while the state is moving, every five while it is settled or the API is not answering.
export const POLL_MOVING_MS = 1000;
export const POLL_SETTLED_MS = 5000;
export const POLL_ERROR_MS = 5000;

const STATE_WORDS = {
  STOPPED: "Stopped",
  STARTING: "Starting",
  IN_SERVICE: "Ready",
  STOPPING: "Shutting down",
  FAILED: "Failed",
};

/** "Ready" for IN_SERVICE; a state this page does not know is shown as the API names it. */
export function stateWord(state) {
  return STATE_WORDS[state] || state;
}

/** The sentence under the state: what it means and what the user can do now. */
export function stateDetail(status) {
  const count = Number(status.subscribers_count) || 0;
  const who = count === 1 ? "1 phone number" : `${count} phone numbers`;
  switch (status.state) {
    case "STOPPED":
      return "Not running, and costing nothing. Click Start model to start it.";
    case "STARTING":
      if (count) return `Starting. ${who} will get a text when it is ready.`;
      return instantAnswers(status) ? "Starting." : "Starting. You can classify reviews once it is ready.";
    case "IN_SERVICE":
      return "Ready. Classify reviews below.";
    case "STOPPING":
      return "Shutting down to stop the bill.";
    case "FAILED":
      return `It did not start${status.last_error ? `: ${status.last_error}` : "."} Click Start model to try again.`;
    default:
      return "";
  }
}

/** Whether /predict answers from the instant CPU model in this state, as the owner's `instant_tier` allows. */
export function instantAnswers(status) {
  if (status.state === "IN_SERVICE") return false;
  if (status.instant_tier === "always") return true;
  return status.instant_tier === "while-starting" && status.state === "STARTING";
}

/** The line about which model answers reviews right now, or "" when the GPU model does (or the API does not say). */
export function tierNote(status) {
  if (!instantAnswers(status)) return "";
  if (status.state === "STARTING") {
    return "The GPU model is on its way. Meanwhile, the instant CPU model answers your reviews.";
  }
  return "The instant CPU model answers your reviews. Start the GPU model for its answers.";
}

/**
 * The "stops soon" banner from `notice_at` until `expires_at`, or null. Timed from `seconds_left` (the server's
 * clock) so a phone whose clock is off still shows it when the SMS goes out: the notice is due once what is left is
 * no more than the gap between `notice_at` and `expires_at`.
 */
export function stopNotice(status, secondsSinceReceipt, { timeZone } = {}) {
  if (status.state !== "IN_SERVICE" || !status.notice_at || !status.expires_at || !hasCountdown(status)) return null;
  const noticeMs = Date.parse(status.notice_at);
  const expiresMs = Date.parse(status.expires_at);
  const serverLeft = Number(status.seconds_left);
  if (!Number.isFinite(noticeMs) || !Number.isFinite(expiresMs) || !Number.isFinite(serverLeft)) return null;
  const left = serverLeft - secondsSinceReceipt;
  if (left <= 0 || left > (expiresMs - noticeMs) / 1000) return null;
  // No ticking clock in here: the banner is an alert, read out when its text changes (the countdown ticks below).
  return {
    text: `The GPU model stops at ${localAndUtcTime(status.expires_at, { timeZone })}. ` +
      "Keep it running if you are still using it.",
  };
}

/** "GPU time left today: 3 h 22 min of 4 h. Resets at 00:00 UTC.", or "" when the API sends no budget. */
export function budgetText(budget, { timeZone } = {}) {
  if (!budget || typeof budget !== "object" || budget.gpu_minutes_left_today === undefined) return "";
  const perDay = Number(budget.gpu_minutes_per_day);
  const ofDay = Number.isFinite(perDay) && perDay > 0 ? ` of ${minutesText(perDay)}` : "";
  const resets = localAndUtcTime(budget.resets_at, { timeZone });
  return `GPU time left today: ${minutesText(budget.gpu_minutes_left_today)}${ofDay}.` +
    (resets ? ` Resets at ${resets}.` : "");
}

/** While a start is refused after a teardown: when it is allowed again, or "". */
export function cooldownText(status, nowMs, { timeZone } = {}) {
  const until = Date.parse(status.cooldown_until || "");
  if (!Number.isFinite(until) || until <= nowMs || !["STOPPED", "FAILED"].includes(status.state)) return "";
  return `The GPU model has just shut down; it can start again at ${localAndUtcTime(status.cooldown_until, { timeZone })}.`;
}

/**
 * While starting: how far along (percent, kept within 2..99 so the bar neither looks empty nor done) and the words
 * under the bar. `since` dates the start; `eta_seconds` is what was still to go when the status was received.
 * `nowMs` is the wall clock, `secondsSinceReceipt` how long ago the status arrived.
 */
export function startupProgress(status, { nowMs, secondsSinceReceipt }) {
  const sinceMs = Date.parse(status.since || "");
  const elapsed = Number.isFinite(sinceMs) ? Math.max(0, (nowMs - sinceMs) / 1000) : secondsSinceReceipt;
  // eta_seconds is nullable: null means "no estimate", not "zero seconds to go".
  const eta = status.eta_seconds === null || status.eta_seconds === undefined ? NaN : Number(status.eta_seconds);
  let percent;
  let text;
  if (Number.isFinite(eta) && eta >= 0) {
    const remaining = Math.max(0, eta - secondsSinceReceipt);
    percent = elapsed + remaining > 0 ? (100 * elapsed) / (elapsed + remaining) : 99;
    text =
      remaining > 0
        ? `About ${secondsText(remaining)} to go (started ${secondsText(elapsed)} ago).`
        : `Taking a little longer than usual (started ${secondsText(elapsed)} ago).`;
  } else {
    percent = 50;
    text = `Started ${secondsText(elapsed)} ago.`;
  }
  return { percent: Math.min(99, Math.max(2, percent)), text };
}

/** Whether the page shows a countdown to the shutdown: only while in service with a known deadline. */
export function hasCountdown(status) {
  return status.state === "IN_SERVICE" && status.seconds_left !== null && status.seconds_left !== undefined;
}

/** The countdown, counted on from the `seconds_left` the server sent `secondsSinceReceipt` ago. */
export function countdownText(secondsLeft, secondsSinceReceipt) {
  const left = Number(secondsLeft) - secondsSinceReceipt;
  return left > 0 ? clockText(left) : "any moment now";
}

/** How long to wait before asking for the status again, after this answer. */
export function nextPollDelayMs(status) {
  if (status.state === "STARTING" || status.state === "STOPPING") return POLL_MOVING_MS;
  if (status.state === "IN_SERVICE" && Number.isFinite(status.seconds_left) && status.seconds_left < 6) {
    return POLL_MOVING_MS; // the shutdown is due: show it when it happens, not up to 5 s later
  }
  return POLL_SETTLED_MS;
}

/** The sentence after a successful Start: `httpStatus` 200 means it was already running. */
export function startedMessage(status, httpStatus, phone) {
  if (status.state === "IN_SERVICE") {
    const already = httpStatus === 200 ? "The model is already running" : "The model is ready";
    return `${already}. Classify away.`;
  }
  if (phone && status.subscribed === false) {
    return `Starting, but ${phone} could not be added to the people to text (the list is full). Keep this page open.`;
  }
  if (phone) return `Starting. We will text ${phone} when it is ready.`;
  return "Starting. Keep this page open to see when it is ready.";
}

/** The sentence after Extend, or "" when the answer has no new deadline to tell. */
export function extendedMessage(answer) {
  if (answer.seconds_left === undefined || answer.seconds_left === null) return "";
  const how = answer.capped ? "Extended as far as allowed" : "Extended";
  return `${how}: it now shuts down in ${secondsText(answer.seconds_left)}.`;
}
