"""The model server (training/model_server.py, the SageMaker container contract) over real HTTP on loopback, serving
the pipeline's tiny model, under requests that are not valid: the framings of tests/integration/fuzz_http.py, and
bodies and content types of tests/unit/fuzz/fuzz_inputs.py sent to POST /invocations. Every request gets an answer
that is not a 5xx, every 4xx is JSON with `error` and `message`; a valid batch still gets its predictions after.

A 5xx from the model server is what SageMaker turns into a ModelError, which the API answers 502: a bad input that
reaches it must be a 4xx here."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.integration.fuzz_http import check, exchange, framings
from tests.unit.fuzz.fuzz_inputs import CONTENT_TYPES, FUZZ, any_body, check_answer, crafted_bodies, json_bodies
from training.model_server import InferenceApp, make_handler

pytestmark = pytest.mark.slow
ROUTES = ("/invocations", "/ping")


@pytest.fixture(scope="module")
def model_server(tiny_model_dir: Path) -> Iterator[int]:
    """The server the local runtime spawns, in this process on a free port, with the model loaded."""
    app = InferenceApp(str(tiny_model_dir), threads=1)
    app.load()
    assert app.loaded is not None, app.load_error
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(app))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def invocation(port: int, body: bytes, content_type: str = "application/json") -> bytes:
    head = (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def assert_still_serves(port: int) -> None:
    status, _, body = exchange(port, invocation(port, b'{"texts": ["a wonderful film", "dull and bad"]}'), False)
    assert status == 200, body
    assert len(json.loads(body)["predictions"]) == 2


@FUZZ
@given(data=st.data())
def test_any_bytes_on_the_wire_get_an_answer_not_a_server_error(model_server: int, data) -> None:
    method, request, half_close = data.draw(framings(model_server, ROUTES))
    status, _, body = exchange(model_server, request, half_close, head_only=method.upper() == "HEAD")
    check(status, body, method, request)


@FUZZ
@given(body=json_bodies() | crafted_bodies(), content_type=st.sampled_from(CONTENT_TYPES))
@example(body="[" * 100_000 + "]" * 100_000, content_type="application/json")  # deeper than the recursion limit
@example(body='{"text": "ok \\ud800"}', content_type="application/json")  # a lone surrogate: legal JSON, not text
@example(body='{"texts": ["fine", "\\udfff\\ud800"]}', content_type="application/json")
@example(body='{"inputs": ' + "9" * 5000 + "}", content_type="application/json")
def test_json_of_any_shape_gets_an_answer_not_a_server_error(model_server: int, body: str, content_type: str) -> None:
    status, _, answer = exchange(
        model_server, invocation(model_server, body.encode("utf-8", "surrogatepass"), content_type), half_close=False
    )
    check_answer(status or 0, answer, body[:300])


@FUZZ
@given(body=any_body)
def test_raw_bodies_get_an_answer_not_a_server_error(model_server: int, body: bytes) -> None:
    status, _, answer = exchange(model_server, invocation(model_server, body), half_close=False)
    check_answer(status or 0, answer, body[:300])


def test_the_model_still_answers_after_the_fuzzing(model_server: int) -> None:
    assert_still_serves(model_server)
