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
    found = sorted(
        ROOT.glob(".venv-sam/lib/python3*/site-packages/samtranslator/policy_templates_data/policy_templates.json")
    )
    if not found:
        raise RuntimeError("SAM's policy_templates.json not found: the IAM check needs the SAM CLI venv (.venv-sam)")
    return json.loads(found[-1].read_text())["Templates"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allow_statements(template: dict[str, Any], function_id: str) -> list[dict[str, Any]]:
    """The Allow statements of the function's Policies: inline, `!Ref` to a managed policy of the template, or a SAM
    policy template (its parameters left unresolved: a SAM template's resources are never "*" alone)."""
    resources = template["Resources"]
    policies = resources[function_id]["Properties"].get("Policies", [])
    sam_templates = sam_policy_templates()
    statements: list[dict[str, Any]] = []
    for policy in _as_list(policies):
        if isinstance(policy, dict) and "Statement" in policy:
            statements += _as_list(policy["Statement"])
        elif isinstance(policy, dict) and set(policy) == {"Ref"}:
            statements += _as_list(resources[policy["Ref"]]["Properties"]["PolicyDocument"]["Statement"])
        elif isinstance(policy, dict) and len(policy) == 1 and next(iter(policy)) in sam_templates:
            statements += _as_list(sam_templates[next(iter(policy))]["Definition"]["Statement"])
        else:
            raise AssertionError(f"{function_id}: a policy this check cannot read: {policy}")
    return [statement for statement in statements if statement.get("Effect") == "Allow"]


def granted_actions(template: dict[str, Any], function_id: str) -> set[str]:
    """Every action the Allow statements of the function's Policies name (wildcards kept)."""
    return {action for statement in allow_statements(template, function_id) for action in _as_list(statement["Action"])}


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
    """`!Ref Parameter` to the parameter's value; anything else as it is."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        return parameters[value["Ref"]]
    return value


def conditions_hold(condition: dict[str, Any], request: dict[str, list[str]], parameters: dict[str, Any]) -> bool:
    """IAM's evaluation of the condition operators these policies use, for a request whose context keys have the
    given values (a key absent from `request` is absent from the request). An operator this check does not know
    fails the test instead of being guessed."""
    for operator, keys in condition.items():
        for key, wanted in keys.items():
            wanted_values = {_resolve(v, parameters) for v in _as_list(wanted)}
            present = request.get(key)
            if operator == "Null":
                if ({"true"} if present is None else {"false"}) != {str(w).lower() for w in wanted_values}:
                    return False
            elif operator == "StringEquals":
                if present is None or not any(v in wanted_values for v in present):
                    return False
            elif operator == "ForAllValues:StringEquals":
                if present is not None and not all(v in wanted_values for v in present):
                    return False  # an absent or empty key satisfies ForAllValues: hence the Null condition
            else:
                raise AssertionError(f"condition operator {operator} is not understood by this check")
    return True


def allows(
    template: dict[str, Any], function_id: str, action: str, request: dict[str, list[str]], parameters: dict[str, Any]
) -> bool:
    """Whether some Allow statement of the function grants `action` for a request with these condition keys."""
    return any(
        any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in _as_list(statement["Action"]))
        and conditions_hold(statement.get("Condition", {}), request, parameters)
        for statement in allow_statements(template, function_id)
    )


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
