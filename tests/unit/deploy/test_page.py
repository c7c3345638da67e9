"""The page as make deploy publishes it: frontend/'s page files, config.js naming the API, mirrored into the bucket."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from deploy.page import CONFIG_FILE, PageError, PageHosting, content_type, generated_config, page_files
from deploy.settings import ROOT
from deploy.waiting import Waiting

API = "https://abc123.execute-api.us-east-1.amazonaws.com/Prod"


def api_base(config_js: str) -> str:
    """window.API_BASE after the browser ran config.js (node, with a `window`)."""
    script = "const window = {}; eval(require('fs').readFileSync(0, 'utf8')); console.log(window.API_BASE);"
    return subprocess.run(["node", "-e", script], input=config_js, capture_output=True, text=True, check=True).stdout


def test_config_js_names_the_api_and_keeps_the_rest_of_frontend_config_js() -> None:
    source = (ROOT / "frontend" / CONFIG_FILE).read_text()

    generated = generated_config(source, API + "/")

    assert api_base(generated).strip() == API  # no trailing slash: the page appends /status itself
    assert "window.API_TIMEOUT_SECONDS = window.API_TIMEOUT_SECONDS || 30;" in generated
    with pytest.raises(PageError, match="no longer has the line"):
        generated_config(source.replace("window.API_BASE", "window.API"), API)


def test_the_page_is_its_html_js_and_css_without_the_dashboard() -> None:
    files = page_files(ROOT / "frontend", API)

    assert {"index.html", "style.css", "config.js", "js/api.js", "js/main.js"} <= set(files)
    assert not [key for key in files if key.startswith("dashboard/") or key.endswith((".py", ".txt"))]
    assert content_type("js/main.js") == "text/javascript; charset=utf-8"
    assert content_type("index.html") == "text/html; charset=utf-8"


@mock_aws
def test_publishing_mirrors_the_folder_and_invalidates_the_whole_distribution(tmp_path: Path) -> None:
    s3, cloudfront = boto3.client("s3", region_name="us-east-1"), boto3.client("cloudfront", region_name="us-east-1")
    s3.create_bucket(Bucket="page")
    s3.put_object(Bucket="page", Key="js/old.js", Body=b"gone")
    distribution = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": "x",
            "Comment": "",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "page.s3.amazonaws.com"}]},
            "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https"},
        }
    )["Distribution"]["Id"]
    said: list[str] = []
    frontend = tmp_path / "frontend"
    shutil.copytree(ROOT / "frontend", frontend, ignore=shutil.ignore_patterns("dashboard"))

    files = page_files(frontend, API)
    PageHosting(s3, cloudfront, said.append, Waiting(sleep=lambda _: None)).publish("page", distribution, files)

    keys = {item["Key"] for item in s3.list_objects_v2(Bucket="page")["Contents"]}
    assert keys == set(files)
    assert s3.get_object(Bucket="page", Key="config.js")["Body"].read() == files["config.js"]
    (invalidation,) = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]["Items"]
    batch = cloudfront.get_invalidation(DistributionId=distribution, Id=invalidation["Id"])["Invalidation"]
    assert batch["InvalidationBatch"]["Paths"]["Items"] == ["/*"]
    assert "removed 1 stale" in said[0] and said[-1].endswith("completed")
