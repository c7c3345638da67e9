// What the page says about the model's state: words, start-up progress, countdown, poll rhythm, Start and Extend.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  budgetText,
  cooldownText,
  countdownText,
  extendedMessage,
  hasCountdown,
  nextPollDelayMs,
  POLL_MOVING_MS,
  POLL_SETTLED_MS,
  startedMessage,
  startupProgress,
  stateDetail,
  stateWord,
  stopNotice,
  tierNote,
} from "../../frontend/js/status.js";

const SINCE = "2026-01-01T12:00:00Z";
const at = (seconds) => Date.parse(SINCE) + seconds * 1000;

test("states are named in plain words; an unknown one as the API names it", () => {
  assert.equal(stateWord("IN_SERVICE"), "Ready");
  assert.equal(stateWord("STOPPING"), "Shutting down");
  assert.equal(stateWord("UPDATING"), "UPDATING");
});

test("the detail line says who gets a text, and why a start failed", () => {
  assert.equal(stateDetail({ state: "STARTING", subscribers_count: 2 }),
    "Starting. 2 phone numbers will get a text when it is ready.");
  assert.equal(stateDetail({ state: "STARTING", subscribers_count: 1 }),
    "Starting. 1 phone number will get a text when it is ready.");
  assert.equal(stateDetail({ state: "STARTING" }), "Starting. You can classify reviews once it is ready.");
  assert.equal(
    stateDetail({ state: "FAILED", last_error: "the model server exited with code 1" }),
    "It did not start: the model server exited with code 1 Click Start model to try again.",
  );
  assert.equal(stateDetail({ state: "FAILED" }), "It did not start. Click Start model to try again.");
});

test("progress while starting: elapsed against elapsed plus what is left", () => {
  // 60 s in, the server said 180 s to go 0 s ago: a quarter of the way.
  const progress = startupProgress({ since: SINCE, eta_seconds: 180 }, { nowMs: at(60), secondsSinceReceipt: 0 });
  assert.equal(progress.percent, 25);
  assert.equal(progress.text, "About 3 min to go (started 1 min ago).");
});

test("the estimate counts down between polls", () => {
  const progress = startupProgress({ since: SINCE, eta_seconds: 180 }, { nowMs: at(90), secondsSinceReceipt: 30 });
  assert.equal(progress.text, "About 2 min 30 s to go (started 1 min 30 s ago).");
  assert.equal(progress.percent, 37.5);
});

test("past the estimate the bar stops short of full and says it is taking longer", () => {
  const progress = startupProgress({ since: SINCE, eta_seconds: 10 }, { nowMs: at(500), secondsSinceReceipt: 20 });
  assert.equal(progress.percent, 99);
  assert.equal(progress.text, "Taking a little longer than usual (started 8 min 20 s ago).");
});

test("without an estimate (eta_seconds null) it says how long ago it started, not that it is late", () => {
  const progress = startupProgress({ since: SINCE, eta_seconds: null }, { nowMs: at(42), secondsSinceReceipt: 2 });
  assert.equal(progress.text, "Started 42 s ago.");
  assert.equal(progress.percent, 50);
});

test("without a start time the elapsed time counts from when the status arrived; the bar never looks empty", () => {
  const progress = startupProgress({ eta_seconds: 400 }, { nowMs: at(0), secondsSinceReceipt: 0 });
  assert.equal(progress.percent, 2);
  assert.equal(progress.text, "About 6 min 40 s to go (started 0 s ago).");
});

test("the countdown shows only while in service with a deadline, and counts on from the last answer", () => {
  assert.equal(hasCountdown({ state: "IN_SERVICE", seconds_left: 1800 }), true);
  assert.equal(hasCountdown({ state: "IN_SERVICE", seconds_left: null }), false);
  assert.equal(hasCountdown({ state: "STOPPED", seconds_left: 0 }), false);
  assert.equal(countdownText(1800, 0.5), "29:59");
  assert.equal(countdownText(40, 10), "00:30");
  assert.equal(countdownText(3, 4), "any moment now");
});

test("polls are quick while the state moves or a shutdown is due, slow otherwise", () => {
  assert.equal(nextPollDelayMs({ state: "STARTING" }), POLL_MOVING_MS);
  assert.equal(nextPollDelayMs({ state: "STOPPING" }), POLL_MOVING_MS);
  assert.equal(nextPollDelayMs({ state: "IN_SERVICE", seconds_left: 5 }), POLL_MOVING_MS);
  assert.equal(nextPollDelayMs({ state: "IN_SERVICE", seconds_left: 600 }), POLL_SETTLED_MS);
  assert.equal(nextPollDelayMs({ state: "STOPPED" }), POLL_SETTLED_MS);
  assert.ok(POLL_MOVING_MS < POLL_SETTLED_MS);
});

test("after Start: who will be texted, a full list, or that it was already running", () => {
  assert.equal(startedMessage({ state: "STARTING", subscribed: true }, 202, "+15555550100"),
    "Starting. We will text +15555550100 when it is ready.");
  assert.match(startedMessage({ state: "STARTING", subscribed: false }, 202, "+15555550100"),
    /\+15555550100 could not be added .*list is full/);
  assert.equal(startedMessage({ state: "STARTING" }, 202, ""),
    "Starting. Keep this page open to see when it is ready.");
  assert.equal(startedMessage({ state: "IN_SERVICE" }, 200, ""), "The model is already running. Classify away.");
  assert.equal(startedMessage({ state: "IN_SERVICE" }, 202, ""), "The model is ready. Classify away.");
});

test("after Extend: the new shutdown time, and whether it was capped", () => {
  assert.equal(extendedMessage({ seconds_left: 600, capped: false }), "Extended: it now shuts down in 10 min.");
  assert.equal(extendedMessage({ seconds_left: 3600, capped: true }),
    "Extended as far as allowed: it now shuts down in 1 h 0 min.");
  assert.equal(extendedMessage({ state: "STOPPED", seconds_left: null }), "");
});

test("while starting, the page says the GPU model is on its way only if the instant model answers meanwhile", () => {
  const starting = { state: "STARTING", subscribers_count: 0 };
  assert.equal(tierNote({ ...starting, instant_tier: "while-starting" }),
    "The GPU model is on its way. Meanwhile, the instant CPU model answers your reviews.");
  assert.equal(tierNote({ ...starting, instant_tier: "always" }),
    "The GPU model is on its way. Meanwhile, the instant CPU model answers your reviews.");
  assert.equal(tierNote({ ...starting, instant_tier: "off" }), "");
  assert.equal(tierNote(starting), ""); // an API from before the instant tier
  assert.equal(stateDetail({ ...starting, instant_tier: "always" }), "Starting.");
  assert.equal(stateDetail({ ...starting, instant_tier: "off" }), "Starting. You can classify reviews once it is ready.");
  assert.match(tierNote({ state: "STOPPED", instant_tier: "always" }), /^The instant CPU model answers/);
  assert.equal(tierNote({ state: "STOPPED", instant_tier: "while-starting" }), "");
  assert.equal(tierNote({ state: "IN_SERVICE", instant_tier: "always" }), "");
});

// In service, stopping at 13:05 UTC with the notice at 13:00 UTC: the banner shows in the last five minutes.
const inService = (secondsLeft) => ({
  state: "IN_SERVICE",
  expires_at: "2026-01-01T13:05:00Z",
  notice_at: "2026-01-01T13:00:00Z",
  seconds_left: secondsLeft,
});

test("the stop notice shows from notice_at until expires_at, with the stop time in local time and UTC", () => {
  assert.equal(stopNotice(inService(301), 0), null);
  assert.equal(stopNotice(inService(310), 11).text.slice(0, 22), "The GPU model stops at");
  assert.equal(stopNotice(inService(299), 0, { timeZone: "Europe/Paris" }).text,
    "The GPU model stops at 14:05 your time (13:05 UTC). Keep it running if you are still using it.");
  assert.equal(stopNotice(inService(5), 5), null); // expired: the teardown is under way
});

test("no stop notice without notice_at (NoticeMinutes 0), a deadline, or outside IN_SERVICE", () => {
  assert.equal(stopNotice({ ...inService(60), notice_at: null }, 0), null);
  assert.equal(stopNotice({ ...inService(60), seconds_left: null }, 0), null);
  assert.equal(stopNotice({ ...inService(60), state: "STOPPING" }, 0), null);
});

test("the budget line says what is left of today's GPU time and when it resets", () => {
  const budget = { gpu_minutes_per_day: 240, gpu_minutes_used_today: 38, gpu_minutes_left_today: 202,
    resets_at: "2026-01-02T00:00:00Z" };
  assert.equal(budgetText(budget, { timeZone: "UTC" }), "GPU time left today: 3 h 22 min of 4 h. Resets at 00:00 UTC.");
  assert.equal(budgetText({ ...budget, gpu_minutes_left_today: 0 }, { timeZone: "America/New_York" }),
    "GPU time left today: none of 4 h. Resets at 19:00 your time (00:00 UTC).");
  assert.equal(budgetText(undefined), "");
});

test("after a teardown the page says when a start is allowed again, until then", () => {
  const now = Date.parse("2026-01-01T12:00:00Z");
  const stopped = { state: "STOPPED", cooldown_until: "2026-01-01T12:02:00Z" };
  assert.equal(cooldownText(stopped, now, { timeZone: "UTC" }),
    "The GPU model has just shut down; it can start again at 12:02 UTC.");
  assert.equal(cooldownText(stopped, now + 120_000), "");
  assert.equal(cooldownText({ state: "STOPPED", cooldown_until: null }, now), "");
});
