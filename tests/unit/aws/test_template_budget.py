"""The AWS Budgets budget tells the owner when the month's cost runs high: the template's CostBudget resolved for the
BudgetAlertEmail values a deploy can pass, as CloudFormation would resolve its conditions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ondemand.handlers.ceiling import CLOSE_AT_PERCENT

ROOT = Path(__file__).resolve().parents[3]
NO_VALUE = object()


def resolve(value: Any, template: dict[str, Any], parameters: dict[str, str]) -> Any:
    """Resolve Ref, Fn::If, Fn::Not and Fn::Equals against `parameters` (defaults for the rest); drop AWS::NoValue."""
    if isinstance(value, list):
        items = [resolve(item, template, parameters) for item in value]
        return [item for item in items if item is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref":
            if argument == "AWS::NoValue":
                return NO_VALUE
            if argument in template["Parameters"]:
                return parameters.get(argument, str(template["Parameters"][argument].get("Default", "")))
            return {"Ref": argument}
        if key == "Fn::If":
            condition, when_true, when_false = argument
            holds = resolve(template["Conditions"][condition], template, parameters)
            return resolve(when_true if holds else when_false, template, parameters)
        if key == "Fn::Not":
            return not resolve(argument[0], template, parameters)
        if key == "Fn::Equals":
            left, right = (resolve(side, template, parameters) for side in argument)
            return left == right
    resolved = {key: resolve(item, template, parameters) for key, item in value.items()}
    return {key: item for key, item in resolved.items() if item is not NO_VALUE}


def budget(template: dict[str, Any], **parameters: str) -> dict[str, Any]:
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Budgets::Budget"]
    return resolve(resource["Properties"], template, parameters)


def test_an_email_gets_warned_of_the_actual_and_the_forecast_monthly_cost(template) -> None:
    properties = budget(template, BudgetAlertEmail="owner@example.com", MonthlyBudgetUsd="150")

    assert properties["Budget"]["BudgetType"] == "COST"
    assert properties["Budget"]["TimeUnit"] == "MONTHLY"
    assert properties["Budget"]["BudgetLimit"] == {"Amount": "150", "Unit": "USD"}
    notifications = properties["NotificationsWithSubscribers"]
    assert {n["Notification"]["NotificationType"] for n in notifications} == {"ACTUAL", "FORECASTED"}
    for notification in notifications:
        assert {"SubscriptionType": "EMAIL", "Address": "owner@example.com"} in notification["Subscribers"]
        assert 0 < float(notification["Notification"]["Threshold"]) <= 100


def ceiling_crossings(properties: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """NotificationType -> subscribers of the notifications that close the API: actual spend at CLOSE_AT_PERCENT of
    the budget (what bills after closing fits in the rest), the forecast at 100 %."""
    closing = {"ACTUAL": CLOSE_AT_PERCENT, "FORECASTED": 100}
    return {
        n["Notification"]["NotificationType"]: n["Subscribers"]
        for n in properties.get("NotificationsWithSubscribers", [])
        if float(n["Notification"]["Threshold"]) == closing[n["Notification"]["NotificationType"]]
        and n["Notification"]["ThresholdType"] == "PERCENTAGE"
    }


@pytest.mark.parametrize("email", ["", "owner@example.com"])
def test_crossing_the_budget_actual_or_forecast_reaches_the_function_that_closes_the_api(template, email) -> None:
    """With or without an address: the ceiling does not depend on anyone reading an email."""
    crossings = ceiling_crossings(budget(template, BudgetAlertEmail=email))
    assert set(crossings) == {"ACTUAL", "FORECASTED"}
    for subscribers in crossings.values():
        assert {"SubscriptionType": "SNS", "Address": {"Ref": "CeilingTopic"}} in subscribers
    events = template["Resources"]["CeilingFunction"]["Properties"]["Events"].values()
    assert {"Type": "SNS", "Properties": {"Topic": {"Ref": "CeilingTopic"}}} in list(events)


def test_an_empty_email_deploys_the_budget_with_no_email_subscriber(template) -> None:
    """AWS Budgets rejects a subscriber with an empty address, so the default ("") must leave out every email."""
    assert template["Parameters"]["BudgetAlertEmail"]["Default"] == ""
    properties = budget(template)
    subscribers = [s for n in properties["NotificationsWithSubscribers"] for s in n["Subscribers"]]
    assert subscribers and all(s["SubscriptionType"] == "SNS" for s in subscribers)
    assert properties["Budget"]["BudgetLimit"]["Amount"] == str(template["Parameters"]["MonthlyBudgetUsd"]["Default"])


@pytest.mark.parametrize(
    ("email", "accepted"),
    [("", True), ("owner@example.com", True), ("owner", False), ("a b@example.com", False), ("@example.com", False)],
)
def test_the_email_parameter_accepts_an_address_or_nothing(template, email: str, accepted: bool) -> None:
    pattern = template["Parameters"]["BudgetAlertEmail"]["AllowedPattern"]
    assert (re.fullmatch(pattern, email) is not None) is accepted


def test_the_deploy_guide_tells_the_owner_to_set_the_email() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    assert "BudgetAlertEmail=" in guide and "MonthlyBudgetUsd" in guide
