"""The local state store's server: moto's DynamoDB-compatible server on a loopback port, with the stack's table
created from the key schema in template.yaml. The lifecycle's own pynamodb adapter talks to it unchanged."""

from __future__ import annotations

import logging
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from local_runtime.cfn_template import load_template, table_definition

log = logging.getLogger(__name__)
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request at INFO


class LocalStateServer:
    """Starts moto's server in a thread (no child process to leak) and creates the state table."""

    def __init__(self, table_name: str, region: str = "us-east-1", host: str = "127.0.0.1", port: int = 0,
                 rate_limit_table_name: str = "ondemand-sentiment-rate-limits") -> None:
        self.table_name = table_name
        self.rate_limit_table_name = rate_limit_table_name
        self.region = region
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.url = ""

    def start(self) -> str:
        """Start the server and create the state and rate-limit tables; returns the endpoint URL
        (DYNAMODB_ENDPOINT_URL)."""
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        template = load_template()
        for logical_id, name in (("StateTable", self.table_name), ("RateLimitTable", self.rate_limit_table_name)):
            self.client().create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                       **table_definition(template, logical_id))
        log.info("state store: tables %s, %s on %s", self.table_name, self.rate_limit_table_name, self.url)
        return self.url

    def client(self) -> Any:
        """A boto3 DynamoDB client for this server (local credentials, never AWS)."""
        return boto3.client("dynamodb", endpoint_url=self.url, region_name=self.region,
                            aws_access_key_id="local", aws_secret_access_key="local")

    def close(self) -> None:
        self._server.stop()
