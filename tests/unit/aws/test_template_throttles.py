"""The API's throttles bound the whole API, not each route: API Gateway applies a stage's method settings to each method
on its own ("Throttle requests to your REST APIs", API Gateway developer guide), so every route and its CORS preflight
needs an entry of its own, and the API admits at most their sum, which the README and the template state. The ceiling's
copy of them (CEILING_CONFIG, what a reopening restores) is the same list."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def escaped(path: str) -> str:
    """A MethodSetting's ResourcePath: every "/" of the route escaped as "~1" after a leading "/" (the MethodSetting
    reference: "/phone/code" -> "/~1phone~1code")."""
    return "/" + path.replace("/", "~1")


def settings(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    entries = template["Resources"]["Api"]["Properties"]["MethodSettings"]
    keyed = {(e["ResourcePath"], e["HttpMethod"]): e for e in entries}
    assert len(keyed) == len(entries), "two MethodSettings entries for one method"
    return keyed


def routes(template: dict[str, Any]) -> set[tuple[str, str]]:
    """(path, METHOD) of every route: api/openapi.yaml's paths and every function's Api events, each with the OPTIONS
    SAM's Cors adds to its path."""
    document = yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text())
    found = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item if method in HTTP_METHODS
    }
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "Api":
                found.add((event["Properties"]["Path"], event["Properties"]["Method"].upper()))
    return found | {(path, "OPTIONS") for path, _ in found}


def stated_sum() -> Decimal:
    readme = (ROOT / "README.md").read_text()
    stated = re.findall(r"sum to \*\*([0-9.]+) requests/s\*\*", readme)
    assert len(stated) == 1, "README.md states the throttles' sum once, as 'sum to **N requests/s**'"
    return Decimal(stated[0])


def test_every_route_and_its_preflight_has_a_throttle_of_its_own(template) -> None:
    own = settings(template)
    deployed_routes = {(p, m) for p, m in routes(template) if p != "/pipeline"}  # /pipeline: the local runtime's only
    missing = sorted(f"{method} {path}" for path, method in deployed_routes if (escaped(path), method) not in own)
    assert not missing, "routes with no MethodSettings entry of their own (they would get the '/*' catch-all):\n" + (
        "\n".join(missing)
    )
    for entry in own.values():
        assert entry["ResourcePath"] == "/*" or "/" not in entry["ResourcePath"][1:], f"unescaped path: {entry}"
        assert Decimal(str(entry["ThrottlingRateLimit"])) > 0 and int(entry["ThrottlingBurstLimit"]) >= 1


def test_the_throttles_sum_to_the_number_the_readme_and_the_template_state(template) -> None:
    total = sum(Decimal(str(e["ThrottlingRateLimit"])) for e in settings(template).values())
    assert total == stated_sum(), f"the throttles sum to {total} requests/s"
    comments = " ".join(line.strip().lstrip("#").strip() for line in (ROOT / "template.yaml").read_text().splitlines())
    assert f"sum to {total.normalize():f} requests/s" in comments, "the comment above MethodSettings states the sum"


def test_the_ceiling_restores_exactly_the_templates_throttles(template) -> None:
    variables = template["Resources"]["CeilingFunction"]["Properties"]["Environment"]["Variables"]
    text = re.sub(r"\$\{[^}]+\}", "0", variables["CEILING_CONFIG"]["Fn::Sub"])
    restored = {
        ("/*" if t["path"] == "/*" else escaped(t["path"]), t["method"]): (Decimal(str(t["rate"])), int(t["burst"]))
        for t in json.loads(text)["throttles"]
    }
    stated = {
        key: (Decimal(str(e["ThrottlingRateLimit"])), int(e["ThrottlingBurstLimit"]))
        for key, e in settings(template).items()
    }
    assert restored == stated


def test_a_throttled_request_is_answered_with_a_sentence_the_page_can_read(template) -> None:
    response = template["Resources"]["Api"]["Properties"]["GatewayResponses"]["THROTTLED"]
    assert response["StatusCode"] == 429
    assert response["ResponseParameters"]["Headers"]["Access-Control-Allow-Origin"] == "'*'"
    body = json.loads(response["ResponseTemplates"]["application/json"].replace("$context.requestId", "abc"))
    assert body["error"] == "throttled" and body["message"].endswith(".") and body["request_id"] == "abc"
