"""Texts only with consent: a number is texted (beyond its one code a day) only after its owner typed that code, and
/start tells nobody whether someone else's number is on the list.

Through the bare API handler (not the fixtures' `confirming` one) on the rate table, whose pepper keys the codes and
tokens exactly as on AWS and in the local runtime.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ondemand.bootstrap import Service, bootstrap
from ondemand.consent import (
    CONFIRMATION_DAYS,
    UNCONFIRMED,
    WRONG_CODES_PER_DAY,
    UnconfirmedPhoneError,
    code_for,
    code_matches,
    new_token,
    token_confirms,
)
from ondemand.domain import EndpointStatus, State
from ondemand.handlers import api, endpoint_events, reconciler, teardown
from ondemand.lifecycle.commands import Start
from ondemand.ports import Adapters

from tests.lifecycle_driver import LifecycleDriver
from tests.settings_factory import make_settings
from tests.unit.lifecycle.lifecycle_rate_table import with_rate_table

# Numbers libphonenumber takes for real US numbers (the 555-01xx range is reserved for fiction).
OWNER = "+12025550100"
VICTIM = "+12025550101"
OTHER = "+12025550102"
PEPPER = b"test-pepper"  # with_rate_table's
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
# What a state snapshot changes by itself between two calls: not an answer about the caller's number.
SNAPSHOT_FIELDS = {"version", "subscribers_count", "history", "since", "seconds_left", "eta_seconds", "budget"}


@pytest.fixture
def settings():
    return make_settings(sms_per_number_per_day=5, sms_per_day=100, cooldown_minutes=0)


@pytest.fixture
def adapters(adapters, aws, clock) -> Adapters:
    # The key comes from the rate limiter's pepper, as with the AWS and local adapters.
    return with_rate_table(dataclasses.replace(adapters, consent_key=None), clock)


@pytest.fixture
def service(adapters: Adapters, settings, clock) -> Service:
    clock.current = NOON
    return bootstrap(settings, adapters, now=clock, sleep=lambda _: None)


@pytest.fixture
def handler(service):
    return api.make_handler(service)


@pytest.fixture
def post(handler, event):
    """`post(path, body, ip=...)` -> (status, JSON body) through the bare API handler."""

    def call(path: str, body: Any, ip: str = "203.0.113.10") -> tuple[int, dict[str, Any]]:
        request = event("apigw_start")
        request["path"] = request["resource"] = request["requestContext"]["resourcePath"] = path
        request["body"] = json.dumps(body)
        request["requestContext"]["identity"]["sourceIp"] = ip
        response = handler(request, None)
        return response["statusCode"], json.loads(response["body"])

    return call


def codes_texted(notifier, phone: str) -> list[str]:
    return [re.search(r"code is (\d{6})", message).group(1) for to, message in notifier.sent if to == phone]


def confirm(post, notifier, phone: str, ip: str = "203.0.113.10") -> str:
    """The whole consent dance as the page does it: ask for a code, read it off the phone, trade it for a token."""
    assert post("/phone/code", {"phone": phone}, ip)[0] == 202
    status, body = post("/phone/confirm", {"phone": phone, "code": codes_texted(notifier, phone)[-1]}, ip)
    assert status == 200, body
    return body["confirmation"]


def not_a_code_text(notifier, phone: str) -> list[str]:
    return [message for to, message in notifier.sent if to == phone and "code is" not in message]


# ----- codes and tokens, pure -----


def test_a_code_is_six_digits_of_its_number_and_day_and_key() -> None:
    code = code_for(PEPPER, OWNER, NOON)
    assert re.fullmatch(r"\d{6}", code)
    assert code == code_for(PEPPER, OWNER, NOON + timedelta(hours=11))  # the same UTC day
    assert code != code_for(PEPPER, OWNER, NOON + timedelta(days=1))
    assert code != code_for(PEPPER, VICTIM, NOON)
    assert code != code_for(b"another-pepper", OWNER, NOON)
    assert code_matches(PEPPER, OWNER, code, NOON) and not code_matches(PEPPER, VICTIM, code, NOON)


def test_a_token_confirms_only_its_number_until_it_expires_and_not_once_altered() -> None:
    token, expires = new_token(PEPPER, OWNER, NOON)
    assert expires == NOON + timedelta(days=CONFIRMATION_DAYS)
    assert token_confirms(PEPPER, OWNER, token, NOON + timedelta(days=CONFIRMATION_DAYS) - timedelta(seconds=1))
    assert not token_confirms(PEPPER, OWNER, token, expires)
    assert not token_confirms(PEPPER, VICTIM, token, NOON)
    assert not token_confirms(b"another-pepper", OWNER, token, NOON)
    epoch, mac = token.split(".")
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    longer = str(int(epoch) + 86400 * 365)
    for tampered in (f"{epoch}.{flipped}", f"{longer}.{mac}", mac, f"{epoch}.", "", "x" * 300, None, 7):
        assert not token_confirms(PEPPER, OWNER, tampered, NOON), tampered


# ----- /phone/code -----


def test_a_code_is_texted_once_per_number_per_utc_day_and_the_answer_does_not_say_which(post, notifier, clock) -> None:
    first = post("/phone/code", {"phone": "+1 (202) 555-0100"})
    assert first[0] == 202
    [text] = [message for to, message in notifier.sent if to == OWNER]
    assert code_for(PEPPER, OWNER, NOON) in text
    assert "if you did not, ignore this" in text and "Sentiment model on " in text
    second = post("/phone/code", {"phone": OWNER}, ip="198.51.100.9")  # another caller, the same number
    assert second == first
    assert len(notifier.sent) == 1
    clock.current = datetime(2026, 3, 11, 0, 0, 1, tzinfo=UTC)  # the next UTC day: a new code
    assert post("/phone/code", {"phone": OWNER})[0] == 202
    assert codes_texted(notifier, OWNER) == [code_for(PEPPER, OWNER, NOON), code_for(PEPPER, OWNER, clock.current)]


def test_one_address_asks_for_a_few_codes_a_day(post, notifier, settings) -> None:
    numbers = [f"+1202555{n:04d}" for n in range(200, 200 + settings.code_limit_per_client + 1)]
    answers = [post("/phone/code", {"phone": number}) for number in numbers]
    assert [status for status, _ in answers] == [202] * settings.code_limit_per_client + [429]
    assert answers[-1][1]["error"] == "rate_limited"
    assert len(notifier.sent) == settings.code_limit_per_client
    assert post("/phone/code", {"phone": numbers[-1]}, ip="198.51.100.7")[0] == 202


@pytest.mark.parametrize("settings", [make_settings(sms_per_day=1)])
def test_a_code_counts_against_the_daily_text_cap(post, notifier) -> None:
    assert post("/phone/code", {"phone": OWNER})[0] == 202
    assert post("/phone/code", {"phone": VICTIM}, ip="198.51.100.7")[0] == 202  # the same answer ...
    assert [to for to, _ in notifier.sent] == [OWNER]  # ... but the day's one text is spent


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/phone/code", {}, "missing_phone"),
        ("/phone/code", {"phone": "+442079460123"}, "phone_not_allowed"),
        ("/phone/code", {"phone": "555-0100"}, "invalid_phone"),
        ("/phone/code", {"phone": 12025550100}, "invalid_phone"),
        ("/phone/confirm", {"phone": OWNER}, "invalid_code"),
        ("/phone/confirm", {"phone": OWNER, "code": "12345"}, "invalid_code"),
        ("/phone/confirm", {"phone": OWNER, "code": 123456}, "invalid_code"),
        ("/phone/confirm", {"phone": OWNER, "code": "١٢٣٤٥٦"}, "invalid_code"),
        ("/phone/confirm", {"phone": "+442079460123", "code": "123456"}, "phone_not_allowed"),
        ("/phone/confirm", {"code": "123456"}, "missing_phone"),
    ],
)
def test_bad_requests_are_400_with_a_sentence_and_text_nobody(post, notifier, path, body, code) -> None:
    status, answer = post(path, body)
    assert (status, answer["error"]) == (400, code) and answer["message"].endswith(".")
    assert notifier.sent == []


def test_a_phone_outside_the_allowlist_is_refused_with_the_start_sentence(post) -> None:
    _, from_code = post("/phone/code", {"phone": "+18765550100"})  # Jamaica: +1, but not the US or Canada
    _, from_start = post("/start", {"phone": "+18765550100"})
    assert from_code["error"] == from_start["error"] == "phone_not_allowed"
    assert from_code["message"] == from_start["message"]


# ----- /phone/confirm -----


def test_the_right_code_gives_a_thirty_day_confirmation_that_starts_with_the_phone(post, notifier, adapters) -> None:
    assert post("/phone/code", {"phone": OWNER})[0] == 202
    status, body = post("/phone/confirm", {"phone": "+1 202 555 0100", "code": codes_texted(notifier, OWNER)[0]})
    assert status == 200 and set(body) == {"confirmation", "expires_at"}
    assert body["expires_at"] == "2026-04-09T12:00:00Z"
    status, started = post("/start", {"phone": OWNER, "confirmation": body["confirmation"]})
    assert (status, started["state"], started["subscribed"]) == (202, "STARTING", True)
    assert list(adapters.store.get().subscribers) == [OWNER]


def test_five_wrong_codes_then_even_the_right_one_is_refused(post, notifier, clock) -> None:
    assert post("/phone/code", {"phone": OWNER})[0] == 202
    right = codes_texted(notifier, OWNER)[0]
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _ in range(WRONG_CODES_PER_DAY):
        status, body = post("/phone/confirm", {"phone": OWNER, "code": wrong}, ip=f"198.51.100.{_}")
        assert (status, body["error"]) == (400, "wrong_code")
    status, body = post("/phone/confirm", {"phone": OWNER, "code": right})
    assert (status, body["error"]) == (429, "rate_limited")
    assert "confirmation" not in body
    clock.current = datetime(2026, 3, 11, 0, 0, 1, tzinfo=UTC)
    assert post("/phone/code", {"phone": OWNER})[0] == 202
    assert post("/phone/confirm", {"phone": OWNER, "code": codes_texted(notifier, OWNER)[-1]})[0] == 200


def test_yesterdays_code_does_not_confirm(post, notifier, clock) -> None:
    assert post("/phone/code", {"phone": OWNER})[0] == 202
    clock.current = datetime(2026, 3, 11, 0, 0, 1, tzinfo=UTC)
    status, body = post("/phone/confirm", {"phone": OWNER, "code": codes_texted(notifier, OWNER)[0]})
    assert (status, body["error"]) == (400, "wrong_code")


# ----- /start needs the confirmation -----


def test_a_confirmation_confirms_its_own_number_only_and_not_once_expired_or_tampered(
    post, notifier, adapters, endpoints, clock
) -> None:
    mine = confirm(post, notifier, OWNER)
    epoch, mac = mine.split(".")
    refused = [
        {"phone": VICTIM, "confirmation": mine},  # my token, someone else's number
        {"phone": OWNER, "confirmation": f"{epoch}.{mac[::-1]}"},
        {"phone": OWNER, "confirmation": f"{int(epoch) + 86400}.{mac}"},
        {"phone": OWNER, "confirmation": ""},
        {"phone": OWNER},
    ]
    for body in refused:
        status, answer = post("/start", body)
        assert (status, answer["error"], answer["message"]) == (400, "unconfirmed_phone", UNCONFIRMED), body
    status, answer = post("/start", {"phone": OWNER, "confirmation": ["not", "a", "token"]})
    assert (status, answer["error"]) == (400, "invalid_confirmation")
    clock.current = NOON + timedelta(days=CONFIRMATION_DAYS, seconds=1)
    assert post("/start", {"phone": OWNER, "confirmation": mine})[1]["error"] == "unconfirmed_phone"
    # Nothing was written or created, and no text went out but the one code.
    assert adapters.store.get().version == 0 and endpoints.created == []
    assert [to for to, _ in notifier.sent] == [OWNER]


def test_the_lifecycle_api_refuses_an_unconfirmed_phone_before_anything(service, adapters, endpoints) -> None:
    token, _ = new_token(PEPPER, OWNER, NOON)
    for command in (Start(VICTIM), Start(VICTIM, "203.0.113.10", token), Start(VICTIM, None, "garbage")):
        with pytest.raises(UnconfirmedPhoneError):
            service.handle(command)
    assert adapters.store.get().version == 0 and endpoints.created == []
    assert service.handle(Start(OWNER, None, token)).subscribed


def test_an_unconfirmed_start_is_not_counted_against_the_phone(post, notifier, settings) -> None:
    for _ in range(settings.start_limit_per_phone + 2):
        assert post("/start", {"phone": OWNER})[0] == 400
    assert post("/start", {"phone": OWNER, "confirmation": confirm(post, notifier, OWNER)})[0] == 202


def test_no_path_texts_or_lists_an_unconfirmed_number(
    post, service, adapters, notifier, endpoints, event, clock
) -> None:
    """Every API route, every other handler, the whole life of a run (ready, stops-soon, failed): the numbers that
    were never confirmed get nothing but, for the one that asked, its code."""
    machine = LifecycleDriver(service)
    forged = new_token(b"guessed-pepper", VICTIM, NOON)[0]
    routes = {(route.method, route.path) for route in api.app._static_routes + api.app._dynamic_routes}
    hostile = [{"phone": VICTIM}, {"phone": VICTIM, "confirmation": forged}, {"phone": OTHER, "code": "000000"}]

    def every_route() -> None:
        for method, path in sorted(routes):
            for body in hostile:
                if method == "POST" and path != "/phone/code":
                    post(path, body)

    every_route()
    owner = confirm(post, notifier, OWNER)
    started = post("/start", {"phone": OWNER, "confirmation": owner})[1]
    every_route()
    name = started["endpoint_name"]
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    for handle, fixture in (
        (endpoint_events.make_handler(service), "endpoint_state_change_in_service"),
        (reconciler.make_handler(service), "reconciler_scheduled"),
    ):
        request = event(fixture)
        if "detail" in request:
            request["detail"]["EndpointName"] = name
        handle(request, None)
    assert adapters.store.get().state == State.IN_SERVICE
    every_route()
    expires_at = adapters.store.get().expires_at
    clock.current = expires_at - timedelta(minutes=service.settings.notice_minutes)
    machine.send_notice(name, expires_at)
    clock.current = expires_at
    request = event("teardown_schedule")
    request.update(endpoint_name=name, expires_at=expires_at.isoformat())
    teardown.make_handler(service)(request, None)
    assert adapters.store.get().state == State.STOPPED
    # A second run that fails: the failed text goes to the list, which holds no unconfirmed number either.
    endpoints.fail_create = None
    second = post("/start", {"phone": OWNER, "confirmation": owner})[1]
    every_route()
    machine.on_endpoint_status(second["endpoint_name"], EndpointStatus.FAILED, "capacity")
    assert {to for to, _ in notifier.sent} == {OWNER}
    assert any("ready" in message for message in not_a_code_text(notifier, OWNER))
    assert any("could not start" in message for message in not_a_code_text(notifier, OWNER))
    assert any("stops at" in message for message in not_a_code_text(notifier, OWNER))
    for entry in adapters.store.get().history:
        assert VICTIM not in str(entry) and OTHER not in str(entry)


# ----- no oracle -----


def test_a_probe_without_the_numbers_confirmation_gets_one_answer_on_the_list_or_not(post, notifier) -> None:
    owner = confirm(post, notifier, OWNER)
    assert post("/start", {"phone": OWNER, "confirmation": owner})[1]["subscribed"] is True
    attackers_own = confirm(post, notifier, OTHER, ip="198.51.100.66")  # a real token, for another number
    for probe in ({}, {"confirmation": attackers_own}, {"confirmation": new_token(b"guess", OWNER, NOON)[0]}):
        on_list = post("/start", {"phone": OWNER, **probe}, ip="198.51.100.66")
        off_list = post("/start", {"phone": VICTIM, **probe}, ip="198.51.100.66")
        assert on_list == off_list
        assert (on_list[0], on_list[1]["error"], on_list[1]["message"]) == (400, "unconfirmed_phone", UNCONFIRMED)


def stripped(answer: tuple[int, dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    status, body = answer
    return status, {key: value for key, value in body.items() if key not in SNAPSHOT_FIELDS}


def test_with_its_confirmation_a_number_on_the_list_and_a_new_one_get_the_same_answer(post, notifier) -> None:
    owner = confirm(post, notifier, OWNER)
    other = confirm(post, notifier, OTHER, ip="198.51.100.7")
    first = post("/start", {"phone": OWNER, "confirmation": owner})
    again = post("/start", {"phone": OWNER, "confirmation": owner})  # already on the list
    joins = post("/start", {"phone": OTHER, "confirmation": other}, ip="198.51.100.7")  # new
    assert stripped(again) == stripped(joins)
    assert again[1].keys() == joins[1].keys() == first[1].keys()
    assert again[1]["subscribed"] is True


@pytest.mark.parametrize("settings", [make_settings(max_subscribers=1, cooldown_minutes=0)])
def test_a_full_list_says_only_that_it_is_full(post, notifier) -> None:
    owner = confirm(post, notifier, OWNER)
    other = confirm(post, notifier, OTHER, ip="198.51.100.7")
    post("/start", {"phone": OWNER, "confirmation": owner})
    status, body = post("/start", {"phone": OTHER, "confirmation": other}, ip="198.51.100.7")
    assert (status, body["subscribed"]) == (202, False)
    assert OWNER not in json.dumps(body)


# ----- without a key -----


def test_without_a_rate_limiter_or_key_no_number_can_be_confirmed(store, endpoints, scheduler, notifier, event):
    service = bootstrap(make_settings(), Adapters(store, endpoints, scheduler, notifier), sleep=lambda _: None)
    handle = api.make_handler(service)
    request = event("apigw_phone_code")
    request["body"] = json.dumps({"phone": OWNER})
    response = handle(request, None)
    assert response["statusCode"] == 400 and json.loads(response["body"])["error"] == "texts_off"
    request = event("apigw_start")
    request["body"] = json.dumps({"phone": OWNER, "confirmation": new_token(PEPPER, OWNER, datetime.now(UTC))[0]})
    assert json.loads(handle(request, None)["body"])["error"] == "unconfirmed_phone"
    assert notifier.sent == [] and store.get().version == 0
