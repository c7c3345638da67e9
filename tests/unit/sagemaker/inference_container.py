"""The Python side of the Hugging Face inference image, driven over stdin/stdout: run by .venv-sagemaker's Python
(transformers 4.37.0 as in the image, on Python 3.11 and CPU torch 2.13.0 instead of its 3.10 and torch 2.1.0;
sagemaker-huggingface-inference-toolkit 2.3.0, MMS 1.1.11).

In the image, `serve` starts MMS (Java) with the config sagemaker-inference writes; MMS's frontend takes /invocations,
frames the request in its binary protocol and hands it to a Python worker, which loads the model with MMS's model
loader and the toolkit's handler service, and answers in the same protocol. This script is that worker without the
Java frontend and the socket: it builds the MMS config with the toolkit's own function, loads the model as the worker
does (`ModelLoaderFactory...load`, as `MXNetModelServiceWorker.load_model`), and for each request read from stdin (one
JSON line: headers and base64 body, what the frontend receives) frames it as the frontend does, decodes it with MMS's
own `retrieve_msg`, calls `Service.predict`, and writes the decoded response (status, content type, body) as a JSON
line to stdout.

    python inference_container.py /opt/ml/model   # environment: the model's PrimaryContainer.Environment
"""

from __future__ import annotations

import base64
import json
import os
import struct
import sys


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


class Frame:
    """An MMS worker's socket, as far as `retrieve_msg` reads it: the bytes the frontend sent."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def recv(self, length: int) -> bytes:
        chunk, self.data = self.data[:length], self.data[length:]
        if not chunk:
            raise EOFError("the frame ended early")  # MMS would os._exit(0) here
        return chunk


def _sized(value: bytes) -> bytes:
    return struct.pack("!i", len(value)) + value


def inference_frame(request_id: str, headers: dict[str, str], body: bytes) -> bytes:
    """An inference command as MMS's frontend frames a raw (not form) request: one request, its HTTP headers, and the
    body as the parameter named "body" with the request's content type (mms/protocol/otf_message_handler.py)."""
    frame = b"I" + _sized(request_id.encode())
    for name, value in headers.items():
        frame += _sized(name.encode()) + _sized(value.encode())
    frame += struct.pack("!i", -1)
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    frame += _sized(b"body") + _sized(content_type.encode()) + _sized(body)
    return frame + struct.pack("!i", -1) + struct.pack("!i", -1)


def decode_response(data: bytes) -> dict:
    """The inverse of mms.protocol.otf_message_handler.create_predict_response, for a batch of one."""

    def take_int() -> int:
        nonlocal data
        value, data = struct.unpack("!i", data[:4])[0], data[4:]
        return value

    def take_bytes() -> bytes:
        nonlocal data
        length = take_int()
        value, data = data[:length], data[length:]
        return value

    code, message = take_int(), take_bytes().decode()
    take_bytes()  # request id
    content_type = take_bytes().decode()
    status, _phrase = take_int(), take_bytes()
    for _ in range(take_int()):  # response headers
        take_bytes(), take_bytes()
    body = take_bytes()
    return {
        "code": code,
        "message": message,
        "status": status,
        "content_type": content_type,
        "body": base64.b64encode(body).decode(),
    }


def main(model_dir: str) -> None:
    # Our answers go to the real stdout; anything the libraries print goes to stderr.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    from mms.model_loader import ModelLoaderFactory
    from mms.protocol.otf_message_handler import retrieve_msg
    from sagemaker_huggingface_inference_toolkit import mms_model_server
    from sagemaker_inference import environment, model_server

    handler_service = mms_model_server.DEFAULT_HANDLER_SERVICE  # what the image's `serve` starts MMS with
    config = properties(model_server._generate_mms_config_properties(environment.Environment(), handler_service))
    # MMS's frontend passes decode_input_request to its workers as this variable.
    os.environ["MMS_DECODE_INPUT_REQUEST"] = config.get("decode_input_request", "true")

    loader = ModelLoaderFactory.get_model_loader(model_dir)
    service = loader.load(model_server.DEFAULT_MMS_MODEL_NAME, model_dir, config["default_service_handler"], None, 1)
    answers.write(json.dumps({"loaded": True}) + "\n")
    answers.flush()

    for number, line in enumerate(sys.stdin):
        request = json.loads(line)
        batch = retrieve_msg(
            Frame(inference_frame(str(number), request["headers"], base64.b64decode(request["body"])))
        )[1]
        answers.write(json.dumps(decode_response(bytes(service.predict(batch)))) + "\n")
        answers.flush()


if __name__ == "__main__":
    main(sys.argv[1])
