// What the user reads for durations, the countdown, phone numbers, review counts and results.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  answeredBy,
  clockText,
  localAndUtcTime,
  maskPhone,
  minutesText,
  normalisePhone,
  percentText,
  phoneProblem,
  probability,
  resultsSummary,
  reviewCountText,
  reviewLines,
  secondsText,
} from "../../frontend/js/format.js";

test("durations read as a person says them", () => {
  assert.equal(secondsText(0), "0 s");
  assert.equal(secondsText(44.6), "45 s");
  assert.equal(secondsText(60), "1 min");
  assert.equal(secondsText(125), "2 min 5 s");
  assert.equal(secondsText(3780), "1 h 3 min");
  assert.equal(secondsText(-5), "0 s");
});

test("the countdown clock shows minutes and seconds, hours only when there are some, never below zero", () => {
  assert.equal(clockText(299.9), "04:59");
  assert.equal(clockText(5), "00:05");
  assert.equal(clockText(3600), "1:00:00");
  assert.equal(clockText(-3), "00:00");
});

test("phone numbers typed with spaces, dashes, dots and brackets become E.164", () => {
  assert.equal(normalisePhone("+1 (555) 555-0100"), "+15555550100");
  assert.equal(normalisePhone(" +44 7700.900.123 "), "+447700900123");
  assert.equal(phoneProblem(normalisePhone("+1 555 555 0100")), "");
});

test("an empty phone is fine (no text wanted); a number without + and country code is explained", () => {
  assert.equal(phoneProblem(""), "");
  assert.match(phoneProblem(normalisePhone("555-0100")), /international number.*\+12025550100/);
  assert.match(phoneProblem("+05555550100"), /international number/); // country codes do not start with 0
  assert.match(phoneProblem("+1234567890123456"), /international number/); // 16 digits: longer than E.164 allows
  assert.match(phoneProblem("+1555abc0100"), /international number/);
});

test("reviews are one per line, blank and whitespace-only lines ignored", () => {
  assert.deepEqual(reviewLines("A wonderful, superb film.\n\n   \n  A dull and boring mess.  "), [
    "A wonderful, superb film.",
    "A dull and boring mess.",
  ]);
  assert.deepEqual(reviewLines("  \n "), []);
  assert.equal(reviewCountText(0), "");
  assert.equal(reviewCountText(1), "1 review");
  assert.equal(reviewCountText(2), "2 reviews");
});

test("a probability is shown as a percentage, whatever the server sent", () => {
  assert.equal(percentText(probability({ prob: 0.9 })), "90.0%");
  assert.equal(percentText(probability({ prob: 1.7 })), "100.0%");
  assert.equal(percentText(probability({ prob: "nonsense" })), "0.0%");
  assert.equal(percentText(probability({})), "0.0%");
});

test("the results line says how many, the model's time, the round trip and the model", () => {
  assert.equal(
    resultsSummary({ count: 2, latencyMs: 12.4, roundTripMs: 57.6, model: "fake" }),
    "2 reviews classified · model time 12 ms · round trip 58 ms · model fake",
  );
  assert.equal(resultsSummary({ count: 1, roundTripMs: 3 }), "1 review classified · round trip 3 ms");
});

test("each answer says which model gave it; a failed GPU call answered by the instant model says so", () => {
  assert.deepEqual(answeredBy({ tier: "gpu" }), { kind: "gpu", text: "Answered by the GPU model" });
  assert.deepEqual(answeredBy({ tier: "instant" }), { kind: "instant", text: "Answered by the instant CPU model" });
  assert.deepEqual(answeredBy({ tier: "instant", degraded: true }),
    { kind: "degraded", text: "GPU model failed, answered by the instant CPU model" });
  assert.deepEqual(answeredBy({ tier: "instant", degraded: false }).kind, "instant");
  assert.deepEqual(answeredBy({ model: "older-backend" }), { kind: "", text: "" });
});

test("budgets in minutes read as hours and minutes, rounded down", () => {
  assert.equal(minutesText(202), "3 h 22 min");
  assert.equal(minutesText(240), "4 h");
  assert.equal(minutesText(45.9), "45 min");
  assert.equal(minutesText(0.4), "none");
  assert.equal(minutesText(-3), "none");
});

test("a moment is shown in the reader's time and in UTC; once when they are the same", () => {
  assert.equal(localAndUtcTime("2026-01-01T13:05:00Z", { timeZone: "America/New_York" }),
    "08:05 your time (13:05 UTC)");
  assert.equal(localAndUtcTime("2026-01-01T13:05:00Z", { timeZone: "UTC" }), "13:05 UTC");
  assert.equal(localAndUtcTime(null), "");
});

test("phone numbers in the outbox are masked, keeping enough to tell them apart", () => {
  assert.equal(maskPhone("+15555550100"), "+1555***0100");
  assert.equal(maskPhone("+447700900123"), "+4477***0123");
  assert.equal(maskPhone("+4930123"), "+49***23");
  assert.equal(maskPhone("+1555***0100"), "+1555***0100"); // masked by the server already
});
