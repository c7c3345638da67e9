"""The page as `make deploy` publishes it, in a real browser: served from the page's bucket (moto) by the CloudFront
stand-in with the template's security headers, its generated config.js pointing at the stack's API on another origin
(the API handler behind the stage stand-in, with the handler's CORS), as on AWS. The Content-Security-Policy lets it
load and talk to the API; it shows the model's state and classifies a review with the instant model make deploy
published. (tests/integration/deploy_stand_ins.py has the stand-ins; test_deploy_moto.py runs the whole deploy.)"""

from __future__ import annotations

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from tests.integration.deploy_stand_ins import StandInSam
from tests.integration.test_deploy_moto import (  # noqa: F401  # fixtures
    account_quotas,
    moto,
    outputs,
    reviews,
    run,
    stand_ins,
)
from tests.unit.aws.iam_coverage import ROOT

pytestmark = pytest.mark.slow


def test_the_deployed_page_answers_from_its_cloudfront_origin_under_its_security_headers(
    page: Page,
    stand_ins: StandInSam,  # noqa: F811  # the fixtures imported above
    reviews: pd.DataFrame,  # noqa: F811
    account_quotas: None,  # noqa: F811
) -> None:
    code, printed = run("deploy", stand_ins, reviews, ROOT / "frontend", "--no-follow")
    assert code == 0, printed
    refused: list[str] = []  # what the browser says when the page breaks its Content-Security-Policy
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else 0)

    page.goto(outputs()["WebPageUrl"])

    expect(page.locator("#state")).to_have_attribute("data-state", "STOPPED")
    page.fill("#reviews", "A wonderful, moving film with superb acting. I loved it.")
    page.click("#predict")
    expect(page.locator("#results li.result")).to_have_count(1, timeout=30_000)
    expect(page.locator("#results-tier")).to_have_attribute("data-tier", "instant")
    assert refused == []
