"""What the fuzz tests send: requests that are not valid, built past the OpenAPI document's happy shapes, and the
check every answer must pass. Shared by the Lambda handler's unit fuzz and the local gateway's and model server's
fuzz over loopback (tests/integration/test_fuzz_*.py).

Classes of input (docs/measurements.md): raw bytes bodies (any bytes, UTF-16 and Latin-1 text, gzip claimed or sent,
a BOM); generated JSON trees (any nesting of null/bool/numbers/strings/lists/objects) as the body and in place of
`text`, `texts`, `phone`; pathological nesting (up to the body limit); huge and odd numbers (10^5000, 1e999, NaN,
-0); escaped lone surrogates and other ill-formed Unicode; duplicate keys; phone numbers in any numeral system
(fullwidth, Arabic-Indic, Devanagari, mathematical digits...) with odd plus signs and separators; odd or
conflicting headers (duplicate and conflicting Content-Type, Content-Length absent, wrong or not a number, gzip
Content-Encoding, odd x-api-key values); odd methods and paths.

Run time is bounded by the `fuzz-ci` hypothesis profile (make test); FUZZ_PROFILE=fuzz-deep runs 20x longer."""

from __future__ import annotations

import gzip
import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile(
    "fuzz-ci",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("fuzz-deep", settings.get_profile("fuzz-ci"), max_examples=3000)
FUZZ = settings.get_profile(os.environ.get("FUZZ_PROFILE", "fuzz-ci"))
"""Applied per test (not loaded globally, so other suites' hypothesis settings stay theirs)."""

ROUTES = ("/status", "/start", "/phone/code", "/phone/confirm", "/predict", "/extend", "/stop")
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "QUERY", "get", "P0ST")

# The zero of every decimal digit block Python's \d matches (str.isdecimal), a few from each kind of script.
DIGIT_ZEROS = (
    0x30,
    0x660,
    0x6F0,
    0x7C0,
    0x966,
    0x9E6,
    0xA66,
    0xAE6,
    0xBE6,
    0xC66,
    0xD66,
    0xE50,
    0xED0,
    0xF20,
    0x1040,
    0x17E0,
    0x1810,
    0x1946,
    0xFF10,
    0x1D7CE,
    0x1D7D8,
    0x1D7E2,
    0x1D7EC,
    0x1D7F6,
)
OTHER_NUMERALS = "\u00b2\u00b3\u00b9\u2070\u2074\u2080\u2460\u2469\u2160\u216b\u3007\u4e00\u4e8c\u00bd"
PLUS_SIGNS = ("+", "+", "+", "\uff0b", "\ufe62", "\u207a", "\u208a", "", "00", "+ ", "++")
SEPARATORS = ("", "", "", " ", "-", ".", "(", ")", "\u00a0", "\u200b", "\u2011", "\u2012", "/", "\t")
JSON_ESCAPES = (
    "\\ud800",
    "\\udfff",
    "\\udbff\\udfff",
    "\\ud83d",
    "\\u0000",
    "\\uffff",
    "\\ufffe",
    "\\u202e",
    "\\ud800\\ud800",
    "\\x41",
    "\\u12",
    "\\U0001F600",
)


@st.composite
def phones(draw: st.DrawFn) -> str:
    """Something a person or an attacker might send as a phone number: mostly digits, in any numeral system."""
    digits = []
    for _ in range(draw(st.integers(0, 18))):
        if draw(st.integers(0, 9)) < 6:
            digits.append(chr(0x30 + draw(st.integers(0, 9))))
        elif draw(st.booleans()):
            digits.append(chr(draw(st.sampled_from(DIGIT_ZEROS)) + draw(st.integers(0, 9))))
        else:
            digits.append(draw(st.sampled_from(OTHER_NUMERALS)))
        digits.append(draw(st.sampled_from(SEPARATORS)))
    suffix = draw(st.sampled_from(("", "", "\n", "\x00", " ext. 12", "#", "\u0301", "\ufeff")))
    return draw(st.sampled_from(PLUS_SIGNS)) + "".join(digits) + suffix


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", " ", "\u202e", "\x00", "\ufeff", "great film", "+12025550100"])
)
json_trees = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)


def dumps(value: Any, ensure_ascii: bool = True) -> str:
    """JSON text for any tree, NaN and Infinity included (Python's json writes and reads them)."""
    return json.dumps(value, ensure_ascii=ensure_ascii)


@st.composite
def json_bodies(draw: st.DrawFn) -> str:
    """JSON text (or nearly): a generated tree as the body or in place of one field of a real request."""
    tree = draw(json_trees)
    shape = draw(st.sampled_from(("body", "text", "texts", "phone", "both", "texts_of", "code", "confirmation")))
    value: Any = {
        "body": tree,
        "text": {"text": tree},
        "texts": {"texts": tree},
        "phone": {"phone": tree},
        "both": {"text": tree, "texts": [tree]},
        "texts_of": {"texts": [tree, "fine"]},
        "code": {"phone": "+12025550100", "code": tree},
        "confirmation": {"phone": "+12025550100", "confirmation": tree},
    }[shape]
    return dumps(value, ensure_ascii=draw(st.booleans()))


@st.composite
def crafted_bodies(draw: st.DrawFn) -> str:
    """The shapes a generator rarely reaches by chance."""
    kind = draw(st.sampled_from(("nesting", "number", "escape", "duplicate", "phone", "numeral_text", "bom")))
    if kind == "nesting":
        depth = draw(st.sampled_from((100, 1000, 5000, 20000, 32000)) | st.integers(1, 32000))
        opener, closer = draw(st.sampled_from((("[", "]"), ('{"a":', "}"), ('{"text":[', "]}"))))
        inner = draw(st.sampled_from(("1", '"x"', "")))
        return opener * depth + inner + closer * draw(st.sampled_from((depth, 0, depth // 2)))
    if kind == "number":
        number = draw(
            st.sampled_from(
                (
                    "1" * 5000,
                    "-" + "9" * 4300,
                    "1e999",
                    "-1e-999",
                    "NaN",
                    "-Infinity",
                    "0." + "0" * 5000 + "1",
                    "1" * 4300,
                    "-0",
                    "01",
                    "1_000",
                    "0x10",
                )
            )
        )
        field = draw(st.sampled_from(("text", "texts", "phone", "n")))
        return f'{{"{field}": {number}}}' if draw(st.booleans()) else number
    if kind == "escape":
        escape = "".join(draw(st.lists(st.sampled_from(JSON_ESCAPES), min_size=1, max_size=3)))
        field = draw(st.sampled_from(("text", "phone", "texts")))
        value = f'["ok {escape}"]' if field == "texts" else f'"ok {escape}"'
        return f'{{"{field}": {value}}}'
    if kind == "duplicate":
        first, second = draw(st.sampled_from((('"text"', '"texts"'), ('"text"', '"text"'), ('"phone"', '"phone"'))))
        return f"{{{first}: {dumps(draw(json_trees))}, {second}: {dumps(draw(json_trees))}}}"
    if kind == "phone":
        return dumps({"phone": draw(phones())}, ensure_ascii=draw(st.booleans()))
    if kind == "numeral_text":
        return dumps({"text": draw(phones())}, ensure_ascii=draw(st.booleans()))
    return "\ufeff" + dumps({"text": "great film"})


@st.composite
def raw_bodies(draw: st.DrawFn) -> bytes:
    """Bytes on the wire: any bytes, or a JSON body in an odd encoding or compressed."""
    kind = draw(st.sampled_from(("bytes", "json", "utf16", "latin1", "gzip", "text", "overlong")))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    text = draw(json_bodies() | crafted_bodies())
    if kind == "json":
        return text.encode("utf-8", "surrogatepass")
    if kind == "utf16":
        return text.encode("utf-16", "surrogatepass")
    if kind == "latin1":
        return dumps({"text": draw(st.text(max_size=20))}, ensure_ascii=False).encode("latin-1", "replace")
    if kind == "gzip":
        return gzip.compress(text.encode("utf-8", "surrogatepass"))
    if kind == "overlong":  # UTF-8 that encodes "{" in two bytes, and a lone surrogate's three
        return b'\xc0\xbb"text": "a"}' if draw(st.booleans()) else b'{"text": "\xed\xa0\x80"}'
    return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")


any_body = raw_bodies() | json_bodies().map(str.encode) | crafted_bodies().map(str.encode)

CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=utf-16",
    "APPLICATION/JSON",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; b=x",
    "application/json, text/plain",
    "application/jsonp",
    "",
    "application/json;;;",
    "*/*",
)


@st.composite
def header_lists(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Request headers, repeated names and conflicting values included (HTTP allows a name more than once)."""
    headers: list[tuple[str, str]] = []
    for content_type in draw(st.lists(st.sampled_from(CONTENT_TYPES), max_size=3)):
        headers.append((draw(st.sampled_from(("Content-Type", "content-type", "CONTENT-TYPE"))), content_type))
    if draw(st.booleans()):
        headers.append(("Content-Encoding", draw(st.sampled_from(("gzip", "br", "identity", "gzip, gzip", "x")))))
    if draw(st.booleans()):
        headers.append(("x-api-key", draw(st.text(max_size=50).filter(lambda v: "\r" not in v and "\n" not in v))))
    if draw(st.booleans()):
        headers.append(("Accept", draw(st.sampled_from(("*/*", "text/html", "application/xml", "", "\x7f")))))
    if draw(st.booleans()):
        headers.append(("X-Forwarded-For", draw(st.sampled_from(("1.2.3.4", "::1", "garbage", "1.2.3.4, 5.6.7.8")))))
    return headers


def check_answer(status: int, body: bytes | str, context: Any) -> dict[str, Any]:
    """Never a 5xx; every 4xx is a JSON object with a non-empty `error` code and `message` sentence."""
    assert status < 500, (status, body, context)
    if status >= 400:
        answer = json.loads(body)
        assert isinstance(answer, dict), (status, body, context)
        assert isinstance(answer.get("error"), str) and answer["error"], (status, body, context)
        assert isinstance(answer.get("message"), str) and len(answer["message"]) > 5, (status, body, context)
        return answer
    return json.loads(body) if body else {}
