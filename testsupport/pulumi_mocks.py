"""Pulumi mocks that record every resource the program registers, keyed by type token."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pulumi
import yaml

from testsupport.local_project import without_reconciler_in_cluster

PROJECT_DIR = Path(__file__).resolve().parent.parent
FAKE_DIGEST = "sha256:" + "ab" * 32
STACK_REFERENCE = "pulumi:pulumi:StackReference"
ECR_TOKEN_PASSWORD = "ecr-token-do-not-log"


@dataclass
class Registered:
    typ: str
    name: str
    inputs: dict
    resource_id: str


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    registered: list[Registered] = field(default_factory=list)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    # What a StackReference reads: stack name -> its outputs; the secret ones are those named in secret_outputs.
    stack_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    secret_outputs: tuple[str, ...] = ("kubeconfig",)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if args.typ == STACK_REFERENCE:
            return self._stack_reference(args)
        outputs = dict(args.inputs)
        outputs.update(_fake_outputs(args.typ, args.name, args.inputs))
        resource_id = f"{args.name}-id"
        self.registered.append(Registered(args.typ, args.name, dict(args.inputs), resource_id))
        return resource_id, outputs

    def _stack_reference(self, args: pulumi.runtime.MockResourceArgs):
        name = args.inputs["name"]
        self.registered.append(Registered(args.typ, args.name, dict(args.inputs), name))
        if name not in self.stack_outputs:
            raise ValueError(f"unknown stack {name!r}")  # what the engine answers for a stack it cannot find
        outputs = self.stack_outputs[name]
        secret = [key for key in self.secret_outputs if key in outputs]
        return name, {"name": name, "outputs": outputs, "secretOutputNames": secret}

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.calls.append((args.token, dict(args.args)))
        if args.token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {"userName": "AWS", "password": ECR_TOKEN_PASSWORD, "proxyEndpoint": "https://ecr", "authorizationToken": "x"}
        return {}

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.registered if r.typ == typ]

    def one(self, typ: str) -> Registered:
        found = self.of_type(typ)
        assert len(found) == 1, f"expected one {typ}, got {[r.name for r in found]}"
        return found[0]


def _fake_outputs(typ: str, name: str, inputs: dict) -> dict[str, Any]:
    if typ == "aws:ecr/repository:Repository":
        return {
            "repositoryUrl": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{inputs['name']}",
            "registryId": "123456789012",
        }
    if typ == "docker-build:index:Image":
        return {"digest": FAKE_DIGEST}
    if typ == "aws:eks/cluster:Cluster":
        return {
            "endpoint": f"https://{name}.eks.example",
            "certificateAuthority": {"data": "Q0EtREFUQQ=="},
            "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.example/id/{name}"}]}],
        }
    if typ in ("aws:iam/role:Role", "aws:kms/key:Key"):
        return {"arn": f"arn:aws:test::{name}", "name": name}
    return {}


def stack_config(stack: str, overrides: dict[str, Any] | None = None) -> dict[str, str]:
    """The config the engine passes to the program: Pulumi.yaml's defaults, then the stack's real
    Pulumi.<stack>.yaml, then the test's overrides, in the string form the engine uses."""
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    values = {key: spec["default"] for key, spec in declared.items() if isinstance(spec, dict) and "default" in spec}
    values.update(without_reconciler_in_cluster(yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]))
    values.update(overrides or {})
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


@dataclass
class ProgramRun:
    """What one run of a program under mocks registered, protected and exported."""

    mocks: RecordingMocks
    resources: dict[str, pulumi.Resource] = field(default_factory=dict)
    exports: dict[str, Any] = field(default_factory=dict)
    secret_exports: set[str] = field(default_factory=set)

    def _record_resource(self, args: pulumi.ResourceTransformationArgs) -> None:
        self.resources[args.name] = args.resource
        return None

    def protected(self, name: str) -> bool:
        """Whether the SDK registered the resource as protected (set on it or inherited from its parent)."""
        return bool(self.resources[name]._protect)


def run_program(
    program: Callable[[], Any],
    stack: str,
    config: dict[str, str],
    secret_keys: list[str] | None = None,
    run: ProgramRun | None = None,
    organization: str | None = None,
) -> ProgramRun:
    """Runs a program under fresh mocks, with the stack's config, until every output settles.

    Pass `run` to inspect what was registered even when the program raises.
    """
    run = run or ProgramRun(RecordingMocks())
    pulumi.runtime.settings.ROOT.set(None)  # a new root stack per run, so exports don't leak between tests
    pulumi.runtime.set_mocks(run.mocks, project="pulumi-gitops", stack=stack, preview=False, organization=organization)
    pulumi.runtime.set_all_config(config, secret_keys or [])

    def body() -> pulumi.Output:
        pulumi.runtime.register_stack_transformation(run._record_resource)
        program()
        exported = pulumi.runtime.get_root_resource().outputs
        settled = []
        for name, value in exported.items():
            output = pulumi.Output.from_input(value)
            settled.append(
                pulumi.Output.all(output, pulumi.Output.from_input(output.is_secret())).apply(
                    lambda pair, name=name: _keep_export(run, name, *pair)
                )
            )
        return pulumi.Output.all(*settled)

    pulumi.runtime.test(body)()
    return run


def _keep_export(run: ProgramRun, name: str, value: Any, is_secret: bool) -> None:
    run.exports[name] = value
    if is_secret:
        run.secret_exports.add(name)


SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


def is_secret_input(value: Any) -> bool:
    """Whether a mocked resource received this input as a secret."""
    return isinstance(value, dict) and value.get(SECRET_SIG[0]) == SECRET_SIG[1]


def reveal(value: Any) -> Any:
    """The plain value of a secret input, for asserting what the resource got."""
    return value["value"] if is_secret_input(value) else value
