"""IAM coverage: record the AWS API calls code makes (botocore's `before-call` event on every client) and compare them
with the IAM actions a function's role in template.yaml grants.

A call maps to the action `<signing name>:<operation>` (sagemaker-runtime's InvokeEndpoint is signed as "sagemaker",
so it is `sagemaker:InvokeEndpoint`); that holds for every service these functions call. A role's actions come from
its Policies: inline `Statement`s, `!Ref` to an AWS::IAM::ManagedPolicy of the template, and SAM policy templates
expanded by name from the SAM translator's own policy_templates.json (aws/serverless-application-model,
samtranslator/policy_templates_data/policy_templates.json, read from the SAM CLI's venv). Resources and Deny
statements are not compared: this check finds a missing action, not a too-broad resource.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import botocore.session

ROOT = Path(__file__).resolve().parents[3]


def sam_policy_templates() -> dict[str, Any]:
    found = sorted(ROOT.glob(".venv-sam/lib/python3*/site-packages/samtranslator/policy_templates_data/"
                             "policy_templates.json"))
    if not found:
        raise RuntimeError("SAM's policy_templates.json not found: the IAM check needs the SAM CLI venv (.venv-sam)")
    return json.loads(found[-1].read_text())["Templates"]


def _actions_of_statements(statements: Any) -> set[str]:
    statements = statements if isinstance(statements, list) else [statements]
    actions: set[str] = set()
    for statement in statements:
        if statement.get("Effect") == "Allow":
            action = statement["Action"]
            actions.update(action if isinstance(action, list) else [action])
    return actions


def granted_actions(template: dict[str, Any], function_id: str) -> set[str]:
    """Every action the Allow statements of the function's Policies name (wildcards kept)."""
    resources = template["Resources"]
    policies = resources[function_id]["Properties"].get("Policies", [])
    sam_templates = sam_policy_templates()
    actions: set[str] = set()
    for policy in policies if isinstance(policies, list) else [policies]:
        if isinstance(policy, dict) and "Statement" in policy:
            actions |= _actions_of_statements(policy["Statement"])
        elif isinstance(policy, dict) and set(policy) == {"Ref"}:
            document = resources[policy["Ref"]]["Properties"]["PolicyDocument"]
            actions |= _actions_of_statements(document["Statement"])
        elif isinstance(policy, dict) and len(policy) == 1 and next(iter(policy)) in sam_templates:
            actions |= _actions_of_statements(sam_templates[next(iter(policy))]["Definition"]["Statement"])
        else:
            raise AssertionError(f"{function_id}: a policy this check cannot read: {policy}")
    return actions


def is_granted(action: str, granted: set[str]) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in granted)


class CallRecorder:
    """Records `<signing name>:<operation>` for every API call of every botocore client made while installed."""

    def __init__(self) -> None:
        self.actions: list[str] = []

    def _before_call(self, model: Any, **_: Any) -> None:
        service = model.service_model
        prefix = service.signing_name or service.endpoint_prefix
        self.actions.append(f"{prefix}:{model.name}")

    @contextmanager
    def installed(self, monkeypatch: Any) -> Iterator[CallRecorder]:
        original = botocore.session.Session.create_client
        recorder = self

        def create_client(session: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            client.meta.events.register("before-call.*.*", recorder._before_call)
            return client

        monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
        yield self

    @contextmanager
    def section(self) -> Iterator[list[str]]:
        """The actions recorded inside the block."""
        start = len(self.actions)
        recorded: list[str] = []
        yield recorded
        recorded.extend(self.actions[start:])
