// The page's words and numbers: durations, the countdown clock, phone numbers, reviews, results. Pure functions,
// no DOM and no network, so node's test runner checks them (tests/js/).

/** "45 s", "2 min 5 s", "1 h 3 min": how long, as a person says it. */
export function secondsText(total) {
  const s = Math.max(0, Math.round(total));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  const rest = s % 60;
  if (m < 60) return rest ? `${m} min ${rest} s` : `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "04:59" or "1:00:00": a clock that counts down, never below zero. */
export function clockText(total) {
  const s = Math.max(0, Math.floor(total));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

// E.164: a plus, a country code that does not start with 0, 7 to 15 digits in all.
const E164 = /^\+[1-9]\d{6,14}$/;

/** The number as typed, without the spaces, dashes, dots and brackets people write numbers with. */
export function normalisePhone(typed) {
  return String(typed).replace(/[\s().-]/g, "");
}

/** Why a normalised phone number cannot be used, or "" when it can (an empty one means "no text, thanks"). */
export function phoneProblem(phone) {
  if (phone === "" || E164.test(phone)) return "";
  return "That does not look like an international number. Start with + and the country code, e.g. +12025550100.";
}

/** The reviews typed in the box: one per line, blank lines ignored. */
export function reviewLines(text) {
  return String(text)
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

/** "1 review", "3 reviews"; nothing for none. */
export function reviewCountText(count) {
  if (count === 0) return "";
  return count === 1 ? "1 review" : `${count} reviews`;
}

/** A prediction's probability as a number in [0, 1], whatever the server sent. */
export function probability(prediction) {
  return Math.min(1, Math.max(0, Number(prediction.prob) || 0));
}

/** "90.0%" */
export function percentText(fraction) {
  return `${(fraction * 100).toFixed(1)}%`;
}

/** The line above the results: how many, the model's own time, the round trip and which model answered. */
export function resultsSummary({ count, latencyMs, roundTripMs, model }) {
  const parts = [`${count} ${count === 1 ? "review" : "reviews"} classified`];
  if (latencyMs !== undefined) parts.push(`model time ${Math.round(Number(latencyMs))} ms`);
  parts.push(`round trip ${Math.round(roundTripMs)} ms`);
  if (model) parts.push(`model ${model}`);
  return parts.join(" · ");
}

/** "3 h 22 min", "45 min", "none": a budget in whole minutes (rounded down: never promise a minute not there). */
export function minutesText(minutes) {
  const m = Math.max(0, Math.floor(Number(minutes) || 0));
  if (m === 0) return "none";
  if (m < 60) return `${m} min`;
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${Math.floor(m / 60)} h`;
}

function hourMinute(ms, timeZone) {
  return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone })
    .format(new Date(ms));
}

/**
 * "14:05 your time (08:35 UTC)": a moment of the API in the reader's time zone and in UTC, since the SMS and the
 * server speak UTC. Just "08:35 UTC" where the reader's zone is UTC. `timeZone` is for tests; the page passes none.
 */
export function localAndUtcTime(iso, { timeZone } = {}) {
  const ms = Date.parse(iso || "");
  if (!Number.isFinite(ms)) return "";
  const utc = `${hourMinute(ms, "UTC")} UTC`;
  const local = hourMinute(ms, timeZone);
  return local === hourMinute(ms, "UTC") ? utc : `${local} your time (${utc})`;
}

/**
 * Which model answered, as the page labels the results: {kind: "gpu" | "instant" | "degraded" | "", text}; kind ""
 * and no text when the API does not say (a backend from before the instant tier).
 */
export function answeredBy(answer) {
  if (answer.tier === "gpu") return { kind: "gpu", text: "Answered by the GPU model" };
  if (answer.tier === "instant" && answer.degraded === true) {
    return { kind: "degraded", text: "GPU model failed, answered by the instant CPU model" };
  }
  if (answer.tier === "instant") return { kind: "instant", text: "Answered by the instant CPU model" };
  return { kind: "", text: "" };
}

/** "+1555***0100": enough to tell numbers apart on a shared screen, not enough to text one. */
export function maskPhone(phone) {
  const text = String(phone ?? "");
  if (!/^\+\d+$/.test(text)) return text; // already masked by the server, or not a number at all
  if (text.length >= 11) return `${text.slice(0, 5)}***${text.slice(-4)}`;
  return `${text.slice(0, 3)}***${text.slice(-2)}`;
}
