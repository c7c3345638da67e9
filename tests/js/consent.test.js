// Consent on the page: what Start sends, which confirmation is kept and for which number, the code's shape, and the
// browser notification's once-only rule.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  codeProblem,
  codeSentMessage,
  confirmedMessage,
  confirmedPhone,
  forgetConfirmation,
  normaliseCode,
  notifyText,
  savedConfirmation,
  saveConfirmation,
  shouldNotify,
  startBody,
} from "../../frontend/js/consent.js";

const NOW = Date.parse("2026-03-10T12:00:00Z");
const ANSWER = { confirmation: "1775736000.ab12", expires_at: "2026-04-09T12:00:00Z" };

function memoryStorage() {
  const kept = new Map();
  return {
    getItem: (key) => (kept.has(key) ? kept.get(key) : null),
    setItem: (key, value) => kept.set(key, String(value)),
    removeItem: (key) => kept.delete(key),
    kept,
  };
}

test("a kept confirmation is for exactly its number, until it expires", () => {
  const storage = memoryStorage();
  assert.equal(saveConfirmation(storage, "+12025550100", ANSWER), true);
  assert.equal(savedConfirmation(storage, "+12025550100", NOW).confirmation, ANSWER.confirmation);
  assert.equal(savedConfirmation(storage, "+12025550101", NOW), null);
  assert.equal(savedConfirmation(storage, "+12025550100", Date.parse(ANSWER.expires_at)), null);
  assert.equal(confirmedPhone(storage, NOW), "+12025550100");
  assert.equal(confirmedPhone(storage, Date.parse(ANSWER.expires_at) + 1), "");
  forgetConfirmation(storage);
  assert.equal(savedConfirmation(storage, "+12025550100", NOW), null);
});

test("a second confirmed number replaces the first: one number per browser", () => {
  const storage = memoryStorage();
  saveConfirmation(storage, "+12025550100", ANSWER);
  saveConfirmation(storage, "+12025550101", { ...ANSWER, confirmation: "2.cd" });
  assert.equal(savedConfirmation(storage, "+12025550100", NOW), null);
  assert.equal(savedConfirmation(storage, "+12025550101", NOW).confirmation, "2.cd");
});

test("storage that refuses or holds garbage reads as nothing confirmed", () => {
  const refusing = {
    getItem() {
      throw new Error("SecurityError");
    },
    setItem() {
      throw new Error("QuotaExceededError");
    },
    removeItem() {
      throw new Error("SecurityError");
    },
  };
  assert.equal(saveConfirmation(refusing, "+12025550100", ANSWER), false);
  assert.equal(savedConfirmation(refusing, "+12025550100", NOW), null);
  assert.doesNotThrow(() => forgetConfirmation(refusing));
  const garbage = memoryStorage();
  garbage.setItem("ondemand.phoneConfirmation", "{not json");
  assert.equal(confirmedPhone(garbage, NOW), "");
  garbage.setItem("ondemand.phoneConfirmation", JSON.stringify({ phone: "+12025550100", confirmation: 7 }));
  assert.equal(savedConfirmation(garbage, "+12025550100", NOW), null);
});

test("Start sends no phone, a phone with its confirmation, or nothing at all until the phone is confirmed", () => {
  const saved = { phone: "+12025550100", ...ANSWER };
  assert.deepEqual(startBody("", null), {});
  assert.deepEqual(startBody("+12025550100", saved), { phone: "+12025550100", confirmation: ANSWER.confirmation });
  assert.equal(startBody("+12025550100", null), null);
  assert.equal(startBody("+12025550101", saved), null); // never another number's confirmation
});

test("a code is six digits, typed with or without spaces and dashes", () => {
  assert.equal(normaliseCode(" 123 456 "), "123456");
  assert.equal(normaliseCode("123-456"), "123456");
  assert.equal(codeProblem("123456"), "");
  for (const bad of ["12345", "1234567", "12a456", "", "١٢٣٤٥٦"]) assert.notEqual(codeProblem(bad), "", bad);
});

test("the messages say what happened in plain words", () => {
  assert.match(codeSentMessage("+12025550100"), /^If \+12025550100 can get texts, a 6-digit code is on its way/);
  assert.equal(
    confirmedMessage("+12025550100", ANSWER.expires_at),
    "+12025550100 is confirmed: it gets a text when the model is ready. This browser remembers it until 2026-04-09.",
  );
  assert.equal(
    confirmedMessage("+12025550100", "not a date"),
    "+12025550100 is confirmed: it gets a text when the model is ready.",
  );
});

test("the browser is notified once, when the model turns ready after the reader asked", () => {
  assert.equal(shouldNotify(true, "STARTING", "IN_SERVICE"), true);
  assert.equal(shouldNotify(true, null, "IN_SERVICE"), true); // ready at the first answer after asking
  assert.equal(shouldNotify(true, "IN_SERVICE", "IN_SERVICE"), false); // already told
  assert.equal(shouldNotify(false, "STARTING", "IN_SERVICE"), false); // never asked
  assert.equal(shouldNotify(true, "STARTING", "FAILED"), false);
});

test("the notification choice explains a browser that cannot or may not notify", () => {
  assert.match(notifyText("unsupported", false), /cannot show notifications/);
  assert.match(notifyText("denied", false), /blocked/);
  assert.match(notifyText("granted", true), /will show a notification/);
  assert.equal(notifyText("default", false), "");
});
