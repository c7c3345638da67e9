"""Texts only with consent, in a real browser against the fake API: the page confirms a number with the code texted to
it before Start may name it, keeps the confirmation in this browser, and offers a browser notification instead of a
phone."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, expect

from tests.e2e.fake_api import FakeModel

PHONE = "+12025550100"

# A stand-in for the browser's Notification API that records what the page shows (headless Chromium has no
# notification centre to look at). `permission` is what the reader answers when asked.
NOTIFICATIONS = """
(() => {
  const shown = [];
  class RecordingNotification {
    constructor(title, options) { shown.push({ title, body: (options || {}).body }); }
    static requestPermission() { RecordingNotification.permission = "%s"; return Promise.resolve("%s"); }
  }
  RecordingNotification.permission = "default";
  window.Notification = RecordingNotification;
  window.__notifications = shown;
})();
"""


def confirm_on_the_page(page: Page, model: FakeModel, typed: str) -> None:
    """Send code, read it off the (fake) phone, type it, confirm: as a person does with `typed`."""
    phone = re.sub(r"[\s().-]", "", typed)
    page.fill("#phone", typed)
    page.click("#send-code")
    expect(page.locator("#phone-status")).to_contain_text("a 6-digit code is on its way")
    expect(page.locator("#code")).to_be_focused()
    page.fill("#code", model.codes[phone][:3] + " " + model.codes[phone][3:])  # as a person may type it
    page.click("#confirm-code")
    expect(page.locator("#phone-status")).to_contain_text(f"{phone} is confirmed")
    expect(page.locator("#code-block")).to_be_hidden()


def test_a_confirmed_number_starts_the_model_and_gets_the_text(page: Page, fake_api: str, fake_model: FakeModel):
    fake_model.start_seconds = 3
    page.goto(fake_api)
    expect(page.locator("#state")).to_have_attribute("data-state", "STOPPED")

    confirm_on_the_page(page, fake_model, PHONE)
    expect(page.locator("#outbox li.sms")).to_have_count(1)  # the code text, masked in the local outbox
    page.click("#start")

    expect(page.locator("#state")).to_have_attribute("data-state", "STARTING")
    expect(page.locator("#start-message")).to_contain_text(f"We will text {PHONE}")
    assert fake_model.subscribers == [PHONE]
    kept = json.loads(page.evaluate("localStorage.getItem('ondemand.phoneConfirmation')"))
    assert kept["phone"] == PHONE and kept["confirmation"] == fake_model.confirmations[PHONE]

    expect(page.locator("#state")).to_have_attribute("data-state", "IN_SERVICE", timeout=10_000)
    expect(page.locator("#outbox li.sms")).to_have_count(2)
    assert [sms["phone"] for sms in fake_model.outbox] == [PHONE, PHONE]
    assert "ready" in fake_model.outbox[-1]["message"]


def test_a_later_visit_remembers_the_confirmed_number(page: Page, fake_api: str, fake_model: FakeModel) -> None:
    fake_model.start_seconds = 30
    page.goto(fake_api)
    confirm_on_the_page(page, fake_model, PHONE)
    page.reload()

    expect(page.locator("#phone")).to_have_value(PHONE)
    expect(page.locator("#phone-status")).to_contain_text("This browser remembers it until")
    page.click("#start")
    expect(page.locator("#start-message")).to_contain_text(f"We will text {PHONE}")
    assert fake_model.subscribers == [PHONE]


def test_an_unconfirmed_number_is_not_sent_and_the_page_says_how_to_confirm(
    page: Page, fake_api: str, fake_model: FakeModel
) -> None:
    page.goto(fake_api)
    page.fill("#phone", "+1 (202) 555-0101")
    page.click("#start")

    expect(page.locator("#phone-error")).to_contain_text("Confirm this number first: click Send code")
    expect(page.locator("#send-code")).to_be_focused()
    assert fake_model.state == "STOPPED" and fake_model.subscribers == []


def test_a_wrong_code_is_explained_and_confirms_nothing(page: Page, fake_api: str, fake_model: FakeModel) -> None:
    page.goto(fake_api)
    page.fill("#phone", PHONE)
    page.click("#send-code")
    expect(page.locator("#code-block")).to_be_visible()
    page.fill("#code", "12345")
    page.click("#confirm-code")
    expect(page.locator("#code-error")).to_have_text("The code is the 6 digits in the text we sent.")
    wrong = f"{(int(fake_model.codes[PHONE]) + 1) % 10**6:06d}"
    page.fill("#code", wrong)
    page.press("#code", "Enter")  # confirms the code; it does not start the model
    expect(page.locator("#code-error")).to_contain_text("not the code texted to this number")
    expect(page.locator("#code")).to_have_attribute("aria-invalid", "true")
    assert fake_model.confirmations == {} and fake_model.state == "STOPPED"


def test_a_number_outside_the_allowlist_gets_the_servers_sentence(page: Page, fake_api: str) -> None:
    page.goto(fake_api)
    page.fill("#phone", "+442079460123")
    page.click("#send-code")
    expect(page.locator("#phone-error")).to_contain_text("Texts go only to numbers starting with +1")
    expect(page.locator("#code-block")).to_be_hidden()


def test_the_browser_is_notified_once_when_ready_without_any_phone(
    page: Page, fake_api: str, fake_model: FakeModel
) -> None:
    fake_model.start_seconds = 2
    page.add_init_script(NOTIFICATIONS % ("granted", "granted"))
    page.goto(fake_api)
    page.click("#notify")
    expect(page.locator("#notify-status")).to_contain_text("will show a notification when the model is ready")
    expect(page.locator("#notify")).to_have_attribute("aria-pressed", "true")
    page.click("#start")

    expect(page.locator("#state")).to_have_attribute("data-state", "IN_SERVICE", timeout=10_000)
    page.wait_for_function("window.__notifications.length > 0")
    page.wait_for_timeout(2500)  # a poll or two later: still one
    assert page.evaluate("window.__notifications") == [
        {
            "title": "The sentiment model is ready",
            "body": "Classify your reviews on the page; it shuts itself down when the time runs out.",
        }
    ]
    assert fake_model.subscribers == [] and fake_model.outbox == []


def test_blocked_notifications_are_explained(page: Page, fake_api: str) -> None:
    page.add_init_script(NOTIFICATIONS % ("denied", "denied"))
    page.goto(fake_api)
    page.click("#notify")
    expect(page.locator("#notify-status")).to_contain_text("Notifications are blocked for this page")
    expect(page.locator("#notify")).to_have_attribute("aria-pressed", "false")


def test_the_consent_steps_pass_axe(page: Page, fake_api: str, fake_model: FakeModel) -> None:
    """axe-core (WCAG 2 A and AA rules) on the page at each step a person sees: the code box open with an error, a
    confirmed number, the notification choice explained."""
    from axe_playwright_python.sync_playwright import Axe

    def violations() -> str:
        results = Axe().run(page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]})
        return "" if results.violations_count == 0 else results.generate_report()

    page.add_init_script(NOTIFICATIONS % ("denied", "denied"))
    page.goto(fake_api)
    page.fill("#phone", PHONE)
    page.click("#send-code")
    page.fill("#code", "12")
    page.click("#confirm-code")
    expect(page.locator("#code-error")).not_to_be_empty()
    page.click("#notify")
    expect(page.locator("#notify-status")).to_be_visible()
    assert violations() == ""
    page.fill("#code", fake_model.codes[PHONE])
    page.click("#confirm-code")
    expect(page.locator("#phone-status")).to_contain_text("is confirmed")
    assert violations() == ""
