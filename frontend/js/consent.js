// Consent to texts, on the page's side: a number gets a text only once its owner typed the code texted to it
// (POST /phone/code, then /phone/confirm). The confirmation the API answers is kept in this browser's localStorage
// with its number, so a later visit can start with it; and the phone-free way, a browser notification. Pure
// functions (storage and clock passed in), so node's test runner checks them (tests/js/consent.test.js).

const CONFIRMATION_KEY = "ondemand.phoneConfirmation";
const CODE = /^\d{6}$/;

/** The code as typed, without spaces and dashes ("123 456" and "123-456" are 123456). */
export function normaliseCode(typed) {
  return String(typed).replace(/[\s-]/g, "");
}

/** Why a typed code cannot be sent, or "" when it can. */
export function codeProblem(code) {
  if (CODE.test(code)) return "";
  return "The code is the 6 digits in the text we sent.";
}

function read(storage) {
  try {
    const saved = JSON.parse((storage && storage.getItem(CONFIRMATION_KEY)) || "null");
    return saved && typeof saved === "object" ? saved : null;
  } catch {
    return null; // storage refused or holds something else: as if nothing was confirmed here
  }
}

/** Keep the confirmation /phone/confirm gave for `phone` (one number per browser: the last confirmed). */
export function saveConfirmation(storage, phone, answer) {
  try {
    storage.setItem(
      CONFIRMATION_KEY,
      JSON.stringify({ phone, confirmation: answer.confirmation, expires_at: answer.expires_at }),
    );
    return true;
  } catch {
    return false; // private mode or storage off: the confirmation lasts this page load only
  }
}

/** The saved confirmation of exactly `phone` if it has not expired at `nowMs`, else null. */
export function savedConfirmation(storage, phone, nowMs) {
  const saved = read(storage);
  if (!saved || !phone || saved.phone !== phone || typeof saved.confirmation !== "string") return null;
  const expires = Date.parse(saved.expires_at || "");
  if (!Number.isFinite(expires) || expires <= nowMs) return null;
  return saved;
}

/** The number confirmed in this browser (to fill the phone box on a later visit), or "". */
export function confirmedPhone(storage, nowMs) {
  const saved = read(storage);
  return saved && savedConfirmation(storage, saved.phone, nowMs) ? saved.phone : "";
}

export function forgetConfirmation(storage) {
  try {
    storage.removeItem(CONFIRMATION_KEY);
  } catch {
    // nothing kept, nothing to forget
  }
}

/**
 * What Start sends: {} without a phone, {phone, confirmation} with a confirmed one, or null when the phone still
 * needs confirming (the page then asks for the code instead of starting).
 */
export function startBody(phone, saved) {
  if (!phone) return {};
  if (!saved || saved.phone !== phone) return null;
  return { phone, confirmation: saved.confirmation };
}

export const NEEDS_CONFIRMATION =
  "Confirm this number first: click Send code, then type the code we text you. Or clear the box to start " +
  "without texts.";

/** After /phone/code: the API answers the same whether or not a code went out now, so the page says both. */
export function codeSentMessage(phone) {
  return `If ${phone} can get texts, a 6-digit code is on its way (one code a day, valid until midnight UTC). ` +
    "Type it below.";
}

/** After a right code: who gets texts, and until when this browser remembers it. */
export function confirmedMessage(phone, expiresAt) {
  const until = Date.parse(expiresAt || "");
  const date = Number.isFinite(until) ? new Date(until).toISOString().slice(0, 10) : "";
  return `${phone} is confirmed: it gets a text when the model is ready` +
    (date ? `. This browser remembers it until ${date}.` : ".");
}

/**
 * The browser notification: fire once when the model turns ready after the reader asked for it. `armed` is whether
 * they asked (and allowed notifications); returns whether to notify now.
 */
export function shouldNotify(armed, previousState, state) {
  return Boolean(armed) && state === "IN_SERVICE" && previousState !== "IN_SERVICE";
}

/** What the notification choice says, from the browser's Notification.permission (or "unsupported"). */
export function notifyText(permission, armed) {
  if (permission === "unsupported") return "This browser cannot show notifications.";
  if (permission === "denied") {
    return "Notifications are blocked for this page; allow them in the browser's site settings to use this.";
  }
  if (armed) return "This browser will show a notification when the model is ready (keep this tab open).";
  return "";
}
