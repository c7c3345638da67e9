"""IAM coverage: record the AWS API calls code makes (botocore's `before-parameter-build` event on every client), work
out the IAM request each one is (action, the ARN it touched, the condition keys it carries), and evaluate it against
the policies of a role in template.yaml, resolved for one deployment of the stack.

A call maps to the action `<signing name>:<operation>` (sagemaker-runtime's InvokeEndpoint is signed as "sagemaker",
so it is `sagemaker:InvokeEndpoint`), except where the service authorization reference names another action
(`IAM_ACTION`). The ARN comes from the request's parameters and the client's region (`resources_of`); a call this
module cannot place fails the test instead of being guessed. A role's policies come from its Policies: inline
`Statement`s, `!Ref` to an AWS::IAM::ManagedPolicy of the template, and SAM policy templates expanded by name from
the SAM translator's own policy_templates.json (aws/serverless-application-model,
samtranslator/policy_templates_data/policy_templates.json, read from the SAM CLI's venv). `Stack` resolves their
intrinsic functions (Ref, GetAtt, Sub, Join, Select, Split, If, a nested application's Outputs) to the names and ARNs
CloudFormation would give the stack's resources, and `decide` evaluates them as IAM does for one identity policy set:
an explicit Deny wins, else an Allow whose Action, Resource and Condition all match, else an implicit deny.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
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


def load_template(path: Path) -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml  # understands !Ref, !GetAtt, !Sub

    return cfn_yaml.load(str(path))


# ----- the stack, resolved for one deployment -----

_NAME_PROPERTIES = ("Name", "TableName", "BucketName", "FunctionName", "RoleName", "QueueName", "StateMachineName")


@dataclass
class Stack:
    """One deployment of a template: its account, region, name and parameter values, and the physical ids its
    resources got. `physical` overrides a resource's physical id (what `Ref` returns: a name, or an ARN for a secret),
    e.g. to the ARN moto gave a secret; other resources get CloudFormation's `<stack>-<LogicalId>-<suffix>`."""

    template: dict[str, Any]
    name: str = "test-stack"
    account: str = "123456789012"
    region: str = "us-east-1"
    stack_uuid: str = "51af3dc0-9c1e-11ef-8a3b-0a1b2c3d4e5f"
    parameters: dict[str, Any] = field(default_factory=dict)
    physical: dict[str, str] = field(default_factory=dict)
    directory: Path = ROOT
    partition: str = "aws"
    _nested: dict[str, Stack] = field(default_factory=dict, repr=False)

    @cached_property
    def parameter_values(self) -> dict[str, Any]:
        declared = self.template.get("Parameters", {})
        values = {name: p.get("Default") for name, p in declared.items()}
        values.update(self.parameters)
        missing = [name for name, value in values.items() if value is None]
        if missing:
            raise AssertionError(f"{self.name}: parameters without a value: {missing}")
        return {name: str(value) if not isinstance(value, list) else value for name, value in values.items()}

    @property
    def stack_id(self) -> str:
        return f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:stack/{self.name}/{self.stack_uuid}"

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:{self.account if account else ''}:"
            f"{resource}"
        )

    def resource(self, logical_id: str) -> dict[str, Any]:
        try:
            return self.template["Resources"][logical_id]
        except KeyError:
            raise AssertionError(f"{self.name}: no resource {logical_id}") from None

    def physical_name(self, logical_id: str) -> str:
        if logical_id in self.physical:
            return self.physical[logical_id]
        properties = self.resource(logical_id).get("Properties", {})
        for key in _NAME_PROPERTIES:
            if key in properties:
                return str(self.resolve(properties[key]))
        if "DatabaseInput" in properties:
            return str(self.resolve(properties["DatabaseInput"]["Name"]))
        suffix = hashlib.sha256(f"{self.name}/{logical_id}".encode()).hexdigest()[:12].upper()
        if self.resource(logical_id)["Type"] == "AWS::S3::Bucket":  # lower case, at most 63 characters
            return f"{self.name}-{logical_id}"[:50].lower() + f"-{suffix.lower()}"
        return f"{self.name}-{logical_id}-{suffix}"

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.name,
            "AWS::StackId": self.stack_id,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameter_values:
            return self.parameter_values[name]
        kind = self.resource(name)["Type"]
        physical = self.physical_name(name)
        if kind == "AWS::SecretsManager::Secret" and not physical.startswith("arn:"):
            return self.arn("secretsmanager", f"secret:{physical}-AbCdEf")
        if kind == "AWS::IAM::ManagedPolicy":
            return self.arn("iam", f"policy/{physical}", region=False)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{physical}"
        if kind in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            return self.arn("states", f"stateMachine:{physical}")
        return physical

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self.resource(logical_id)
        kind = resource["Type"]
        if kind == "AWS::Serverless::Application" and attribute.startswith("Outputs."):
            return self.nested(logical_id).resolve(self.nested(logical_id).template["Outputs"][attribute[8:]]["Value"])
        if kind == "AWS::SSM::Parameter" and attribute == "Value":
            return self.resolve(resource["Properties"]["Value"])
        if attribute != "Arn":
            raise AssertionError(f"{self.name}: GetAtt {logical_id}.{attribute} is not understood by this check")
        name = self.physical_name(logical_id)
        arns = {
            "AWS::DynamoDB::Table": lambda: self.arn("dynamodb", f"table/{name}"),
            "AWS::IAM::Role": lambda: self.arn("iam", f"role/{name}", region=False),
            "AWS::Serverless::Function": lambda: self.arn("lambda", f"function:{name}"),
            "AWS::Lambda::Function": lambda: self.arn("lambda", f"function:{name}"),
            "AWS::SQS::Queue": lambda: self.arn("sqs", name),
            "AWS::S3::Bucket": lambda: self.arn("s3", name, region=False, account=False),
            "AWS::Logs::LogGroup": lambda: self.arn("logs", f"log-group:{name}:*"),
            "AWS::Scheduler::ScheduleGroup": lambda: self.arn("scheduler", f"schedule-group/{name}"),
        }
        if kind not in arns:
            raise AssertionError(f"{self.name}: the ARN of a {kind} is not known to this check")
        return arns[kind]()

    def nested(self, logical_id: str) -> Stack:
        """The nested application's stack, its parameters resolved in this one."""
        if logical_id not in self._nested:
            properties = self.resource(logical_id)["Properties"]
            location = self.directory / properties["Location"]
            self._nested[logical_id] = Stack(
                load_template(location),
                name=f"{self.name}-{logical_id}-{hashlib.sha256(logical_id.encode()).hexdigest()[:12].upper()}",
                account=self.account,
                region=self.region,
                parameters={k: self.resolve(v) for k, v in properties.get("Parameters", {}).items()},
                physical=self.physical,
                directory=location.parent,
                partition=self.partition,
            )
        return self._nested[logical_id]

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, value: Any, local: dict[str, Any] | None = None) -> Any:
        """The value with every intrinsic function evaluated; `local` names extra `Ref`/`${}` values (a SAM policy
        template's parameters)."""
        local = local or {}
        if isinstance(value, list):
            return [self.resolve(v, local) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Fn::", "Ref", "Condition")):
            return {k: self.resolve(v, local) for k, v in value.items()}
        function, argument = next(iter(value.items()))
        if function == "Ref":
            return local[argument] if argument in local else self.ref(argument)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.get_att(logical_id, attribute)
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            names = {**local, **{k: self.resolve(v, local) for k, v in variables.items()}}
            return re.sub(r"\$\{([^!}][^}]*)\}", lambda m: str(self._sub_variable(m.group(1), names)), text).replace(
                "${!", "${"
            )
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(str(i) for i in self.resolve(items, local))
        if function == "Fn::Select":
            index, items = self.resolve(argument, local)
            return items[int(index)]
        if function == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text, local)).split(separator)
        if function == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name) else when_false, local)
        if function == "Fn::Equals":
            left, right = self.resolve(argument, local)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self.resolve(argument[0], local)
        if function == "Condition":
            return self.condition(argument)
        raise AssertionError(f"{self.name}: {function} is not understood by this check")

    def _sub_variable(self, name: str, names: dict[str, Any]) -> Any:
        if name in names:
            return names[name]
        if "." in name and not name.startswith("AWS::"):
            logical_id, attribute = name.split(".", 1)
            return self.get_att(logical_id, attribute)
        return self.ref(name)


# ----- a role's policies -----


def _policy_statements(stack: Stack, policy: Any, owner: str) -> list[dict[str, Any]]:
    resources = stack.template["Resources"]
    if isinstance(policy, dict) and "Statement" in policy:
        return _as_list(policy["Statement"])
    if isinstance(policy, dict) and "PolicyDocument" in policy:
        return _as_list(policy["PolicyDocument"]["Statement"])
    if isinstance(policy, dict) and set(policy) == {"Ref"} and policy["Ref"] in resources:
        return _as_list(resources[policy["Ref"]]["Properties"]["PolicyDocument"]["Statement"])
    sam_templates = sam_policy_templates()
    if isinstance(policy, dict) and len(policy) == 1 and next(iter(policy)) in sam_templates:
        name, arguments = next(iter(policy.items()))
        local = {k: stack.resolve(v) for k, v in (arguments or {}).items()}
        definition = sam_templates[name]["Definition"]["Statement"]
        return [stack.resolve(s, local) for s in _as_list(definition)]
    raise AssertionError(f"{owner}: a policy this check cannot read: {policy}")


def raw_statements(template: dict[str, Any], principal_id: str) -> list[dict[str, Any]]:
    """The statements of the principal's policies as template.yaml writes them (intrinsics unresolved): a function's
    or state machine's Policies, or an IAM role's inline Policies."""
    stack = Stack(template)
    properties = stack.resource(principal_id)["Properties"]
    policies = properties.get("Policies", [])
    statements: list[dict[str, Any]] = []
    for policy in _as_list(policies):
        if isinstance(policy, dict) and len(policy) == 1 and next(iter(policy)) in sam_policy_templates():
            name = next(iter(policy))
            statements += _as_list(sam_policy_templates()[name]["Definition"]["Statement"])
        else:
            statements += _policy_statements(stack, policy, principal_id)
    return statements


def role_statements(stack: Stack, principal_id: str) -> list[dict[str, Any]]:
    """The principal's policy statements resolved for this deployment."""
    properties = stack.resource(principal_id)["Properties"]
    if properties.get("ManagedPolicyArns"):
        raise AssertionError(f"{principal_id}: managed policies by ARN are not read by this check")
    statements: list[dict[str, Any]] = []
    for policy in _as_list(properties.get("Policies", [])):
        statements += [stack.resolve(s) for s in _policy_statements(stack, policy, principal_id)]
    return statements


def allow_statements(template: dict[str, Any], function_id: str) -> list[dict[str, Any]]:
    """The Allow statements of the function's Policies as written (a SAM policy template's parameters unresolved)."""
    return [s for s in raw_statements(template, function_id) if s.get("Effect") == "Allow"]


# ----- IAM's evaluation -----


@dataclass(frozen=True)
class Request:
    """One authorization IAM makes: an action on a resource ARN ("*" for an action without resource-level
    permissions), with the condition keys the request carries."""

    action: str
    resource: str
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @staticmethod
    def of(action: str, resource: str, **context: list[str]) -> Request:
        keys = {k.replace("__", ":"): tuple(v) for k, v in context.items()}
        return Request(action, resource, tuple(sorted(keys.items())))

    def __str__(self) -> str:
        keys = "".join(f" [{k}={list(v)}]" for k, v in self.context)
        return f"{self.action} on {self.resource}{keys}"


def _wildcard(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    """IAM's matching: `*` any run of characters (across `:` and `/`), `?` one character, nothing else special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


def conditions_hold(condition: dict[str, Any], request: dict[str, list[str]], parameters: dict[str, Any]) -> bool:
    """IAM's evaluation of the condition operators these policies use, for a request whose context keys have the
    given values (a key absent from `request` is absent from the request). An operator this check does not know
    fails the test instead of being guessed. `parameters` resolves a `!Ref` left in an unresolved statement."""
    for operator, keys in condition.items():
        for key, wanted in keys.items():
            wanted_values = {str(_resolve_ref(v, parameters)) for v in _as_list(wanted)}
            present = request.get(key)
            if operator == "Null":
                if ({"true"} if present is None else {"false"}) != {w.lower() for w in wanted_values}:
                    return False
            elif operator == "StringEquals":
                if present is None or not any(v in wanted_values for v in present):
                    return False
            elif operator == "StringLike":
                if present is None or not any(
                    _wildcard(w, v, case_sensitive=True) for v in present for w in wanted_values
                ):
                    return False
            elif operator == "ForAllValues:StringEquals":
                if present is not None and not all(v in wanted_values for v in present):
                    return False  # an absent or empty key satisfies ForAllValues: hence the Null condition
            else:
                raise AssertionError(f"condition operator {operator} is not understood by this check")
    return True


def _resolve_ref(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        return parameters[value["Ref"]]
    return value


def _matches(statement: dict[str, Any], request: Request, parameters: dict[str, Any]) -> bool:
    if "NotAction" in statement or "NotResource" in statement or "Principal" in statement:
        raise AssertionError(f"a statement this check cannot evaluate: {statement}")
    actions = _as_list(statement["Action"])
    resources = _as_list(statement.get("Resource", []))
    return (
        any(_wildcard(str(a), request.action, case_sensitive=False) for a in actions)
        and any(_wildcard(str(r), request.resource, case_sensitive=True) for r in resources)
        and conditions_hold(statement.get("Condition", {}), {k: list(v) for k, v in request.context}, parameters)
    )


def decide(statements: list[dict[str, Any]], request: Request, parameters: dict[str, Any] | None = None) -> str:
    """One of "allowed", "explicit deny (...)" or "implicit deny: no statement allows it"."""
    parameters = parameters or {}
    denying = [s for s in statements if s.get("Effect") == "Deny" and _matches(s, request, parameters)]
    if denying:
        return f"explicit deny ({denying[0].get('Sid', 'a Deny statement')} denies {denying[0]['Action']})"
    if any(s.get("Effect") == "Allow" and _matches(s, request, parameters) for s in statements):
        return "allowed"
    return "implicit deny: no statement allows it"


def allows(
    template: dict[str, Any], function_id: str, action: str, request: dict[str, list[str]], parameters: dict[str, Any]
) -> bool:
    """Whether the function's role allows `action` on the stack's own resources (any resource), for a request with
    these condition keys; the template resolved with these parameter values."""
    stack = Stack(template, parameters=parameters)
    statements = role_statements(stack, function_id)
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        for resource in _as_list(statement.get("Resource", [])):
            probe = Request(action, str(resource), tuple(sorted((k, tuple(v)) for k, v in request.items())))
            if decide(statements, probe, parameters) == "allowed":
                return True
    return False


# ----- the calls code makes, and what IAM authorizes for each -----


@dataclass
class Call:
    """One API call: `service:Operation` as IAM names its service, the parameters the code passed, the client's
    region."""

    action: str
    params: dict[str, Any]
    region: str

    @property
    def service(self) -> str:
        return self.action.split(":", 1)[0]

    @property
    def operation(self) -> str:
        return self.action.split(":", 1)[1]


# Operations authorized under an action of another name (the service authorization reference's "Actions" tables).
IAM_ACTION = {
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:HeadBucket": "s3:ListBucket",
    # API Gateway's management API is authorized by HTTP verb on the resource's path ("Control access to the API
    # Gateway management API", API Gateway developer guide); CloudWatch's client signs as "monitoring".
    "apigateway:GetStage": "apigateway:GET",
    "apigateway:UpdateStage": "apigateway:PATCH",
    "monitoring:GetMetricStatistics": "cloudwatch:GetMetricStatistics",
}
# Calls IAM does not authorize: STS answers who the caller is to anyone.
NOT_AUTHORIZED = {"sts:GetCallerIdentity"}


def resources_of(call: Call, stack: Stack) -> list[Request]:
    """The IAM requests one call is: its own action on the ARN it touched, and the actions AWS checks beside it
    (passing a role, tagging on create). A call this does not know fails instead of being guessed."""
    p, arn = call.params, stack.arn
    action = IAM_ACTION.get(call.action, call.action)
    service, operation = call.service, call.operation
    if call.action in NOT_AUTHORIZED:
        return []
    if service == "dynamodb" and "TableName" in p:
        return [Request.of(action, arn("dynamodb", f"table/{p['TableName']}"))]
    if service == "sagemaker":
        # SageMaker ARNs carry the resource name in lower case.
        if operation == "ListEndpoints":
            return [Request.of(action, "*")]
        if "EndpointConfigName" in p and operation != "CreateEndpoint":
            resource = arn("sagemaker", f"endpoint-config/{p['EndpointConfigName'].lower()}")
            types = [v["InstanceType"] for v in p.get("ProductionVariants", []) if "InstanceType" in v]
            context = {"sagemaker__InstanceTypes": types} if types else {}
            requests = [Request.of(action, resource, **context)]
        elif "EndpointName" in p:
            resource = arn("sagemaker", f"endpoint/{p['EndpointName'].lower()}")
            requests = [Request.of(action, resource)]
        elif "ModelName" in p:
            resource = arn("sagemaker", f"model/{p['ModelName'].lower()}")
            requests = [Request.of(action, resource)]
        else:
            raise AssertionError(f"which resource {call.action} touches is not known to this check: {p}")
        if p.get("Tags"):  # tags on create are authorized as sagemaker:AddTags on the new resource
            requests.append(Request.of("sagemaker:AddTags", resource))
        return requests
    if service == "ssm" and "Name" in p:
        name = p["Name"]
        return [Request.of(action, arn("ssm", f"parameter{name}" if name.startswith("/") else f"parameter/{name}"))]
    if service == "scheduler" and "Name" in p:
        resource = arn("scheduler", f"schedule/{p.get('GroupName', 'default')}/{p['Name']}")
        requests = [Request.of(action, resource)]
        if "RoleArn" in p.get("Target", {}):
            requests.append(
                Request.of("iam:PassRole", p["Target"]["RoleArn"], iam__PassedToService=["scheduler.amazonaws.com"])
            )
        return requests
    if service == "secretsmanager" and "SecretId" in p:
        if not p["SecretId"].startswith("arn:"):
            raise AssertionError(f"{call.action} by name: the secret's full ARN (its suffix) is not known: {p}")
        return [Request.of(action, p["SecretId"])]
    if service == "sns" and operation == "Publish":
        if "PhoneNumber" in p:
            return [Request.of(action, "*")]  # a text to a phone number has no resource ARN
        return [Request.of(action, p.get("TopicArn") or p["TargetArn"])]
    if service == "s3" and "Bucket" in p:
        if action == "s3:ListBucket":
            return [Request.of(action, arn("s3", p["Bucket"], region=False, account=False))]
        if "Key" in p:
            return [Request.of(action, arn("s3", f"{p['Bucket']}/{p['Key']}", region=False, account=False))]
    if service == "sqs" and "QueueUrl" in p:
        return [Request.of(action, arn("sqs", p["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]))]
    if service == "events" and operation == "PutEvents":
        buses = {e.get("EventBusName", "default") for e in p["Entries"]}
        return [Request.of(action, b if b.startswith("arn:") else arn("events", f"event-bus/{b}")) for b in buses]
    if service == "apigateway" and "restApiId" in p and "stageName" in p:
        stage = f"/restapis/{p['restApiId']}/stages/{p['stageName']}"
        return [Request.of(action, arn("apigateway", stage, account=False))]
    if action == "cloudwatch:GetMetricStatistics":
        return [Request.of(action, "*")]  # no resource-level permissions for reading metrics
    if service == "lambda" and "FunctionName" in p:
        name = p["FunctionName"]
        return [Request.of(action, name if name.startswith("arn:") else arn("lambda", f"function:{name}"))]
    raise AssertionError(f"which resource {call.action} touches is not known to this check: {p}")


def check_calls(stack: Stack, principal_id: str, calls: list[Call]) -> list[str]:
    """One line per request of these calls the principal's role does not allow: principal, action, resource, why."""
    statements = role_statements(stack, principal_id)
    refused = []
    for call in calls:
        for request in resources_of(call, stack):
            decision = decide(statements, request)
            if decision != "allowed":
                refused.append(f"{principal_id}: {request}: {decision}")
    return sorted(set(refused))


class CallRecorder:
    """Records every API call of every botocore client made while installed: `actions` as `<signing
    name>:<operation>`, `calls` with their parameters and region."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    @property
    def actions(self) -> list[str]:
        return [call.action for call in self.calls]

    @contextmanager
    def installed(self, monkeypatch: Any) -> Iterator[CallRecorder]:
        original = botocore.session.Session.create_client
        recorder = self

        def create_client(session: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            region = client.meta.region_name

            def record(params: dict[str, Any], model: Any, **_: Any) -> None:
                service = model.service_model
                prefix = service.signing_name or service.endpoint_prefix
                recorder.calls.append(
                    Call(f"{prefix}:{model.name}", json.loads(json.dumps(params, default=str)), region)
                )

            client.meta.events.register("before-parameter-build.*.*", record)
            return client

        monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
        yield self

    @contextmanager
    def section(self) -> Iterator[list[str]]:
        """The actions recorded inside the block."""
        start = len(self.calls)
        recorded: list[str] = []
        yield recorded
        recorded.extend(call.action for call in self.calls[start:])

    @contextmanager
    def call_section(self) -> Iterator[list[Call]]:
        """The calls recorded inside the block."""
        start = len(self.calls)
        recorded: list[Call] = []
        yield recorded
        recorded.extend(self.calls[start:])


# ----- what AWS calls on a role's behalf, from documented policies -----


@dataclass(frozen=True)
class Documented:
    """A request AWS makes with a role the stack hands it, and where that is written down."""

    request: Request
    source: str

    def __str__(self) -> str:
        return f"{self.request} (source: {self.source})"


STEP_FUNCTIONS_GLUE = "https://docs.aws.amazon.com/step-functions/latest/dg/glue-iam.html (Run a Job .sync)"
STEP_FUNCTIONS_SAGEMAKER = "https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html"
STEP_FUNCTIONS_SDK = (
    "https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html (the IAM action of an SDK "
    "integration is the service's API action)"
)
TRAINING_ADD_TAGS = (
    "https://github.com/aws/aws-cdk/issues/32294 (Step Functions tags the training job it starts; the sagemaker-iam "
    "page lists no AddTags, a role without it fails with 'not authorized to perform: sagemaker:AddTags on resource "
    "...:training-job/...'; CDK added it in aws/aws-cdk#32536)"
)
MODEL_ADD_TAGS = (
    "https://github.com/aws-quickstart/quickstart-aws-utility-meter-data-analytics-platform/issues/53 (the "
    "createModel step fails without sagemaker:AddTags; the same tagging as aws/aws-cdk#32294)"
)
SAGEMAKER_TRAINING_ROLE = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createtrainingjob-perms"
)
SAGEMAKER_MODEL_ROLE = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms"
)
SCHEDULER_ROLE = "https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role"
GLUE_ROLE = (
    "https://docs.aws.amazon.com/glue/latest/dg/create-service-policy.html (AWSGlueServiceRole: the job's S3 data, "
    "the catalog, logs under /aws-glue/)"
)
GLUE_CATALOG_ARNS = "https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html"
SYNC_RULE = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"
SAMPLE_EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:TrainingPipeline:run-1"


def state_machine_definition(stack: Stack, logical_id: str) -> dict[str, Any]:
    """The ASL as deployed: DefinitionUri with its ${Placeholders} filled by the resolved DefinitionSubstitutions."""
    properties = stack.resource(logical_id)["Properties"]
    text = (stack.directory / properties["DefinitionUri"]).read_text()
    substitutions = {k: str(stack.resolve(v)) for k, v in properties.get("DefinitionSubstitutions", {}).items()}
    return json.loads(re.sub(r"\$\{(\w+)\}", lambda m: substitutions[m.group(1)], text))


def _split_arguments(text: str) -> list[str]:
    parts, depth, quoted, current = [], 0, False, ""
    for char in text:
        if char == "'" and depth == 0:
            quoted = not quoted
        if char == "," and depth == 0 and not quoted:
            parts.append(current.strip())
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0) if not quoted else 0
        current += char
    return [*parts, current.strip()] if current.strip() else parts


def sample_value(expression: str, data: dict[str, Any]) -> Any:
    """The value a `.$` field takes in one execution: the intrinsics these states use (States.Format, States.Hash)
    and paths into `data` (`$$` the context object)."""
    expression = expression.strip()
    call = re.fullmatch(r"States\.(\w+)\((.*)\)", expression, re.DOTALL)
    if call:
        name, arguments = call.group(1), [sample_value(a, data) for a in _split_arguments(call.group(2))]
        if name == "Format":
            text = str(arguments[0])
            for argument in arguments[1:]:
                text = text.replace("{}", str(argument), 1)
            return text
        if name == "Hash":
            return hashlib.new(str(arguments[1]).lower(), str(arguments[0]).encode()).hexdigest()
        raise AssertionError(f"States.{name} is not understood by this check")
    if expression.startswith("'"):
        return expression[1:-1]
    if expression.startswith("$"):
        value: Any = data["$$"] if expression.startswith("$$") else data
        for part in expression.lstrip("$").strip(".").split("."):
            value = value[part]
        return value
    raise AssertionError(f"{expression!r} is not understood by this check")


def task_parameters(parameters: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """A Task's Parameters with every `.$` field evaluated for one execution."""
    resolved: dict[str, Any] = {}
    for key, value in parameters.items():
        if key.endswith(".$"):
            resolved[key[:-2]] = sample_value(value, data)
        elif isinstance(value, dict):
            resolved[key] = task_parameters(value, data)
        else:
            resolved[key] = value
    return resolved


@dataclass
class TaskRun:
    """One Task state as an execution runs it: the integration, the API parameters it sends."""

    state: str
    resource: str
    parameters: dict[str, Any]


def task_runs(definition: dict[str, Any]) -> list[TaskRun]:
    """Every Task state in the order of the happy path, its parameters evaluated; a training task's result (job
    name, model artifacts) is what the next states read."""
    data: dict[str, Any] = {"$$": {"Execution": {"Id": SAMPLE_EXECUTION}, "State": {"RetryCount": 0}}}
    runs, name = [], definition["StartAt"]
    states = definition["States"]
    while name:
        state = states[name]
        if state["Type"] == "Task":
            parameters = task_parameters(state.get("Parameters", {}), data)
            runs.append(TaskRun(name, state["Resource"], parameters))
            if "createTrainingJob" in state["Resource"]:
                job = parameters["TrainingJobName"]
                artifacts = f"{parameters['OutputDataConfig']['S3OutputPath']}{job}/output/model.tar.gz"
                data[state["ResultPath"].removeprefix("$.")] = {"TrainingJobName": job, "ModelArtifacts": artifacts}
            if "createModel" in state["Resource"]:
                data[state["ResultPath"].removeprefix("$.")] = {"ModelName": parameters["ModelName"]}
        if state["Type"] == "Choice":
            name = state["Choices"][0]["Next"]  # the approved path
        else:
            name = None if state.get("End") or state["Type"] in ("Succeed", "Fail") else state["Next"]
    return runs


def _s3(stack: Stack, uri: str, key_suffix: str = "") -> tuple[str, str]:
    """The bucket's ARN and an object's ARN under the s3:// location (an object named `key_suffix` under a prefix)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return stack.arn("s3", bucket, region=False, account=False), stack.arn(
        "s3", f"{bucket}/{key}{key_suffix}", region=False, account=False
    )


def _image_pull(stack: Stack, image: str, source: str) -> list[Documented]:
    """ECR pulls of an image `<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`."""
    registry, _, repository = image.partition("/")
    account, region = registry.split(".")[0], registry.split(".")[3]
    arn = f"arn:{stack.partition}:ecr:{region}:{account}:repository/{repository.split(':')[0]}"
    pulls = ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")
    return [Documented(Request.of("ecr:GetAuthorizationToken", "*"), source)] + [
        Documented(Request.of(action, arn), source) for action in pulls
    ]


def integration_requests(stack: Stack, run: TaskRun) -> list[Documented]:
    """What Step Functions does with the state machine's role for one Task state, as its documentation says."""
    p, arn = run.parameters, stack.arn
    if run.resource.endswith(":::glue:startJobRun.sync"):
        job = arn("glue", f"job/{p['JobName']}")
        actions = ("glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun")
        return [Documented(Request.of(a, job), STEP_FUNCTIONS_GLUE) for a in actions]
    if run.resource.endswith(":::sagemaker:createTrainingJob.sync"):
        job = arn("sagemaker", f"training-job/{p['TrainingJobName'].lower()}")
        rule = arn("events", f"rule/{SYNC_RULE}")
        source = f"{STEP_FUNCTIONS_SAGEMAKER} (CreateTrainingJob, Run a Job .sync)"
        return [
            *(
                Documented(Request.of(a, job), source)
                for a in ("sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob")
            ),
            Documented(Request.of("sagemaker:ListTags", "*"), source),
            Documented(
                Request.of("iam:PassRole", p["RoleArn"], iam__PassedToService=["sagemaker.amazonaws.com"]), source
            ),
            *(
                Documented(Request.of(a, rule), source)
                for a in ("events:PutTargets", "events:PutRule", "events:DescribeRule")
            ),
            Documented(Request.of("sagemaker:AddTags", job), TRAINING_ADD_TAGS),
        ]
    if run.resource.endswith(":::sagemaker:createModel"):
        model = arn("sagemaker", f"model/{p['ModelName'].lower()}")
        source = f"{STEP_FUNCTIONS_SAGEMAKER} (CreateModel)"
        return [
            Documented(Request.of("sagemaker:CreateModel", model), source),
            Documented(
                Request.of("iam:PassRole", p["ExecutionRoleArn"], iam__PassedToService=["sagemaker.amazonaws.com"]),
                source,
            ),
            Documented(Request.of("sagemaker:AddTags", model), MODEL_ADD_TAGS),
        ]
    sdk = re.fullmatch(r"arn:aws:states:::aws-sdk:(\w+):(\w+)", run.resource)
    if sdk:
        service, api = sdk.groups()
        call = Call(f"{service}:{api[0].upper()}{api[1:]}", p, stack.region)
        return [Documented(request, STEP_FUNCTIONS_SDK) for request in resources_of(call, stack)]
    raise AssertionError(f"{run.state}: the integration {run.resource} is not known to this check")


def training_role_requests(stack: Stack, run: TaskRun) -> list[Documented]:
    """What SageMaker does with the role a Task passes it: a training job reads its channels and code, writes its
    model, pulls its image, logs and puts metrics; a model's endpoint reads the artifact and pulls its image."""
    p = run.parameters
    if "createTrainingJob" in run.resource:
        job, source = p["TrainingJobName"], SAGEMAKER_TRAINING_ROLE
        requests: list[Documented] = []
        for channel in p["InputDataConfig"]:
            bucket, obj = _s3(stack, channel["DataSource"]["S3DataSource"]["S3Uri"], "part-00000.snappy.parquet")
            requests += [
                Documented(Request.of("s3:ListBucket", bucket), source),
                Documented(Request.of("s3:GetObject", obj), source),
            ]
        code = json.loads(p["HyperParameters"]["sagemaker_submit_directory"])
        requests.append(Documented(Request.of("s3:GetObject", _s3(stack, code)[1]), source))
        output = _s3(stack, p["OutputDataConfig"]["S3OutputPath"], f"{job}/output/model.tar.gz")[1]
        requests.append(Documented(Request.of("s3:PutObject", output), source))
        requests += _image_pull(stack, p["AlgorithmSpecification"]["TrainingImage"], source)
        group = "/aws/sagemaker/TrainingJobs"
        requests += [
            Documented(Request.of("logs:CreateLogGroup", stack.arn("logs", f"log-group:{group}")), source),
            *(
                Documented(
                    Request.of(a, stack.arn("logs", f"log-group:{group}:log-stream:{job}/algo-1-1700000000")), source
                )
                for a in ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")
            ),
            Documented(Request.of("cloudwatch:PutMetricData", "*", cloudwatch__namespace=[group]), source),
        ]
        return requests
    if "createModel" in run.resource:
        container, source = p["PrimaryContainer"], SAGEMAKER_MODEL_ROLE
        return [
            Documented(Request.of("s3:GetObject", _s3(stack, container["ModelDataUrl"])[1]), source),
            *_image_pull(stack, container["Image"], source),
        ]
    return []


def glue_role_requests(stack: Stack, job_id: str, sample_script: str) -> list[Documented]:
    """What the Glue job does with its role: its script, the raw data it reads, the curated data and catalog table it
    replaces (awswrangler's to_parquet, mode overwrite), its logs."""
    properties = stack.resource(job_id)["Properties"]
    arguments = {k: stack.resolve(v) for k, v in properties["DefaultArguments"].items()}
    raw_bucket, raw_object = _s3(stack, arguments["--raw_path"], "imdb.csv")
    curated_bucket, curated_object = _s3(stack, arguments["--curated_path"], "split=train/part-0.snappy.parquet")
    database, table = arguments["--database"], arguments["--table"]
    catalog = [
        stack.arn("glue", "catalog"),
        stack.arn("glue", f"database/{database}"),
        stack.arn("glue", f"table/{database}/{table}"),
    ]
    catalog_actions = ("glue:GetDatabases", "glue:GetDatabase", "glue:CreateDatabase", "glue:GetTable")
    catalog_actions += ("glue:CreateTable", "glue:DeleteTable", "glue:BatchCreatePartition", "glue:GetPartitions")
    group = "/aws-glue/python-jobs/output"
    return [
        Documented(Request.of("s3:GetObject", _s3(stack, sample_script)[1]), GLUE_ROLE),
        Documented(Request.of("s3:ListBucket", raw_bucket), GLUE_ROLE),
        Documented(Request.of("s3:GetObject", raw_object), GLUE_ROLE),
        Documented(Request.of("s3:ListBucket", curated_bucket), GLUE_ROLE),
        *(
            Documented(Request.of(a, curated_object), GLUE_ROLE)
            for a in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject")
        ),
        *(Documented(Request.of(a, r), GLUE_CATALOG_ARNS) for a in catalog_actions for r in catalog),
        Documented(Request.of("logs:CreateLogGroup", stack.arn("logs", f"log-group:{group}")), GLUE_ROLE),
        *(
            Documented(Request.of(a, stack.arn("logs", f"log-group:{group}:log-stream:jr_0123abcd")), GLUE_ROLE)
            for a in ("logs:CreateLogStream", "logs:PutLogEvents")
        ),
    ]


def scheduler_target_requests(call: Call) -> list[Documented]:
    """What EventBridge Scheduler does with the role a schedule names: invoke the target (a Lambda function here),
    send a failed invocation to the schedule's dead-letter queue."""
    target = call.params["Target"]
    if ":lambda:" not in target["Arn"]:
        raise AssertionError(f"a schedule target this check does not know: {target['Arn']}")
    requests = [Documented(Request.of("lambda:InvokeFunction", target["Arn"]), SCHEDULER_ROLE)]
    if "DeadLetterConfig" in target:
        requests.append(Documented(Request.of("sqs:SendMessage", target["DeadLetterConfig"]["Arn"]), SCHEDULER_ROLE))
    return requests


def check_documented(stack: Stack, principal_id: str, documented: list[Documented]) -> list[str]:
    """One line per documented request the principal's role does not allow, with its source."""
    statements = role_statements(stack, principal_id)
    return sorted(
        {
            f"{principal_id}: {d.request}: {decision} (source: {d.source})"
            for d in documented
            if (decision := decide(statements, d.request)) != "allowed"
        }
    )
