"""The page's hosting in template.yaml: a bucket nobody but this stack's distribution reads (origin access control, as
the CloudFront guide's "Restrict access to an Amazon S3 origin" sets it up), HTTPS only, security headers whose
Content-Security-Policy lets the page load only its own files and talk only to this stack's API, and a page that
needs nothing the policy forbids (no inline script or style)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from tests.unit.aws.iam_coverage import ROOT, Stack


def test_the_page_bucket_is_not_public(template) -> None:
    bucket = template["Resources"]["PageBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]  # no ACL grants
    assert "WebsiteConfiguration" not in bucket and "AccessControl" not in bucket


def test_only_this_stacks_distribution_reads_the_bucket_and_only_over_tls(template) -> None:
    stack = Stack(template, physical={"PageDistribution": "E2EXAMPLE12345"})
    policy = stack.resolve(template["Resources"]["PageBucketPolicy"]["Properties"]["PolicyDocument"])
    bucket_arn = stack.get_att("PageBucket", "Arn")
    allows = [statement for statement in policy["Statement"] if statement["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "AllowCloudFrontServicePrincipalReadOnly",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/*",
            "Condition": {
                "StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::123456789012:distribution/E2EXAMPLE12345"}
            },
        }
    ]
    denies = [statement for statement in policy["Statement"] if statement["Effect"] == "Deny"]
    assert denies and denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_distribution_signs_its_requests_and_redirects_to_https(template) -> None:
    config = template["Resources"]["PageDistribution"]["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["PageOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # empty with OAC (AWS::CloudFront docs)
    control = template["Resources"]["PageOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (control["OriginAccessControlOriginType"], control["SigningBehavior"]) == ("s3", "always")
    behaviors = [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]
    assert {behavior["ViewerProtocolPolicy"] for behavior in behaviors} == {"redirect-to-https"}
    assert all(behavior["ResponseHeadersPolicyId"] == {"Ref": "PageResponseHeadersPolicy"} for behavior in behaviors)
    assert config["DefaultRootObject"] == "index.html"


def test_the_content_security_policy_lets_the_page_talk_to_this_stacks_api_only(template) -> None:
    stack = Stack(template)
    headers = template["Resources"]["PageResponseHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    security = headers["SecurityHeadersConfig"]
    csp = stack.resolve(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    api = urlsplit(stack.resolve(template["Outputs"]["ApiUrl"]["Value"]))
    assert directives["connect-src"] == ["'self'", f"{api.scheme}://{api.netloc}"]
    assert directives["default-src"] == ["'none'"] and directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31_536_000
    assert security["FrameOptions"]["FrameOption"] == "DENY" and security["ContentTypeOptions"]["Override"]


class _Inline(HTMLParser):
    """What in the page the policy would block: inline scripts, inline style attributes or blocks, handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        self._in_script = tag == "script" and "src" not in names
        if tag == "style" or "style" in names or any(name.startswith("on") for name in names):
            self.found.append(f"<{tag} {sorted(names)}>")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append(f"inline script: {data.strip()[:40]}")


def test_the_page_needs_nothing_its_content_security_policy_forbids() -> None:
    page = _Inline()
    page.feed((ROOT / "frontend" / "index.html").read_text())
    assert page.found == []
    scripts = " ".join(path.read_text() for path in (ROOT / "frontend" / "js").glob("*.js"))
    assert not re.search(r"\beval\(|new Function\(|innerHTML\s*=.*style=", scripts)
