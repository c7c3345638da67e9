"""A model server in the SageMaker container contract (`GET /ping`, `POST /invocations`).

It serves a model folder through the same `training/inference.py` the SageMaker Hugging Face container would use, so
what the local runtime answers is what the endpoint answers. Stdlib only around the model: it starts fast and stays
light. Run: `python -m training.model_server --model-dir DIR --host 127.0.0.1 --port N`.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from training import inference

MAX_BODY_BYTES = 1_000_000
logger = logging.getLogger("model_server")


class InferenceApp:
    """Turns a request into (status, JSON body); no sockets, so it can be tested on its own."""

    def __init__(self, model_dir: str, threads: int = 2, backend: str | None = None) -> None:
        self.model_dir = model_dir
        self.threads = threads
        self.backend = backend
        self.loaded: inference.LoadedModel | None = None
        self.load_error: str | None = None
        self._predict_lock = threading.Lock()  # one request at a time: its passes already use every core

    def load(self) -> None:
        """Import torch and load the weights; slow, so it runs after the socket is already answering /ping.

        `threads` is torch's thread count, and with onnx-int8 how many micro-batches run side by side."""
        try:
            import torch

            from training import inference

            torch.set_num_threads(self.threads)
            self.loaded = inference.load_model(self.model_dir, backend=self.backend)
        except Exception as err:  # the server stays up to say why in /ping
            self.load_error = f"{type(err).__name__}: {err}"
            logger.exception("could not load the model from %s", self.model_dir)

    def ping(self) -> tuple[int, dict[str, Any]]:
        if self.loaded is not None:
            return HTTPStatus.OK, {"status": "ready", "model": self.loaded.name, "backend": self.loaded.backend}
        if self.load_error:
            return HTTPStatus.SERVICE_UNAVAILABLE, {"error": "model_load_failed", "message": self.load_error}
        return HTTPStatus.SERVICE_UNAVAILABLE, {"error": "loading", "message": "The model is still loading."}

    def invoke(self, body: bytes, content_type: str, accept: str = "application/json") -> tuple[int, dict[str, Any]]:
        if self.loaded is None:
            return self.ping()
        from training import inference

        try:
            texts = inference.input_fn(body, content_type)
            for index, text in enumerate(texts):
                if not _encodes(text):  # "\ud800" is legal JSON, but no tokenizer takes a lone surrogate
                    return HTTPStatus.BAD_REQUEST, {
                        "error": "invalid_text",
                        "message": f"Text {index} holds a lone surrogate, which is not text.",
                    }
            with self._predict_lock:
                prediction = inference.predict_fn(texts, self.loaded)
            return HTTPStatus.OK, json.loads(inference.output_fn(prediction, accept))
        except inference.PayloadError as err:
            return HTTPStatus.BAD_REQUEST, {"error": err.code, "message": err.message}
        except RecursionError:  # json.loads on "[[[[..." deeper than the stack
            return HTTPStatus.BAD_REQUEST, {"error": "invalid_json", "message": "The body nests too deeply."}


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def make_handler(app: InferenceApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/ping":
                self._send(*app.ping())
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": "not_found", "message": f"No route {self.path}."})

        def do_POST(self) -> None:
            if self.path.split("?")[0] != "/invocations":
                self._send(HTTPStatus.NOT_FOUND, {"error": "not_found", "message": f"No route {self.path}."})
                return
            lengths = {v.strip() for v in self.headers.get_all("Content-Length") or ["0"]}
            length_text = lengths.pop() if len(lengths) == 1 else ""
            if not (length_text.isascii() and length_text.isdigit()) or self.headers.get("Transfer-Encoding"):
                self.send_error(HTTPStatus.BAD_REQUEST, "Send one Content-Length, in digits, and no chunked body.")
                return  # the body's length is unknowable: reading on would take its bytes for the next request
            length = int(length_text)
            if length > MAX_BODY_BYTES:
                self.close_connection = True
                self._send(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    {"error": "payload_too_large", "message": f"The body is over {MAX_BODY_BYTES} bytes."},
                )
                return
            body = self.rfile.read(length)
            try:
                status, payload = app.invoke(
                    body, self.headers.get("Content-Type", ""), self.headers.get("Accept") or "application/json"
                )
            except Exception as err:
                logger.exception("prediction failed")
                status, payload = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal_error", "message": str(err)}
            self._send(status, payload)

        def parse_request(self) -> bool:
            if not super().parse_request():
                return False
            if self.request_version == "HTTP/0.9":  # no headers, and its answer would have no status line
                self.send_error(HTTPStatus.BAD_REQUEST, "Send HTTP/1.1 requests.")
                return False
            return True

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """http.server's own refusals in JSON; an unknown method is 405, a version it cannot speak 400."""
            status = {501: HTTPStatus.METHOD_NOT_ALLOWED, 505: HTTPStatus.BAD_REQUEST}.get(code, HTTPStatus(code))
            if self.request_version == "HTTP/0.9":  # not parsed yet: answer with a status line all the same
                self.request_version = "HTTP/1.0"
            self.close_connection = True
            self._send(status, {"error": status.phrase.lower().replace(" ", "_"), "message": message or status.phrase})

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug(format, *args)

    return Handler


def serve(model_dir: str, host: str, port: int, threads: int, backend: str | None = None) -> None:
    """Listen at once (so /ping answers 503 while loading), load the model, serve until SIGTERM or SIGINT."""
    app = InferenceApp(model_dir, threads, backend)
    server = ThreadingHTTPServer((host, port), make_handler(app))
    server.daemon_threads = True

    def stop(signum: int, frame: Any) -> None:
        logger.info("signal %s: shutting down", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=app.load, name="model-loader", daemon=True).start()
    logger.info("listening on http://%s:%d", host, server.server_address[1])
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True, help="a folder written by training/train.py")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--threads", type=int, default=2, help="cores to use (torch threads / parallel passes)")
    parser.add_argument(
        "--backend",
        default=None,
        help="torch, torch-int8, torch-bf16, onnx-int8 or onnx-fp32 (default: $INFERENCE_BACKEND, then the model's "
        "serving config, then the fastest path within 0.5 points of fp32 on this machine, timed once per CPU: "
        "training/serving_path.py); a wrong name is reported by /ping",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    serve(args.model_dir, args.host, args.port, args.threads, args.backend)


if __name__ == "__main__":
    main()
