"""The stack's configuration, read in one place into typed values.

Components never read `pulumi.Config`; they get the plain values built here.
Every key read here is declared, with its default, in Pulumi.yaml.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pulumi
import yaml
from pulumi.runtime.config import is_config_secret

from components.cluster import ClusterArgs
from components.registry import RegistryArgs
from manifest_loader import supported_versions
from manifest_loader.kubernetes_names import namespace_problem
from manifest_loader.readiness import AWAIT_MODES
from manifest_loader.units import (
    UnitError,
    UnitSettings,
    parent_stack_name,
    read_unit_settings,
    unit_name_problem,
    units_off,
)

CONFIG_NAMESPACE = "pulumi-gitops"
TARGETS = ("aws", "local")


class StackConfigError(ValueError):
    """A config value that cannot be used; the message names the stack file and the key."""


@dataclass(frozen=True)
class StackSettings:
    target: str
    app_name: str
    app_dir: Path
    manifests_dir: Path
    default_namespace: str
    # A review stack's own namespace: every namespaced object goes there (manifest_loader/review_namespace.py).
    review_namespace: Optional[str]
    require_clean_manifests: bool
    protect: bool
    image_build_args: dict[str, str]
    image_platforms: list[str]
    image_builder: Optional[str]
    docker_host: Optional[str]
    kubernetes_version: str  # the release whose schemas the manifests are checked against
    server_dry_run: bool  # dry-run the objects on the cluster before anything is registered (local target)
    awaits: str  # what an `up` waits for before an object counts ready (manifest_loader.readiness)
    # `${secret:NAME}` values from the encrypted `secrets` map; each one a Pulumi secret
    secrets: dict[str, pulumi.Output[str]]
    registry: RegistryArgs
    cluster: ClusterArgs
    reconciler: Optional[ReconcilerSettings] = None  # the reconciler as a workload; None when off
    units: Optional[UnitSettings] = None  # the workloads split into unit stacks (manifest_loader/units.py); None: one stack
    unit: Optional[UnitStack] = None  # set on a unit stack `<stack>.<unit>`: what it deploys and where from


@dataclass(frozen=True)
class ReconcilerSettings:
    """The reconciler's image and manifests, built and deployed beside the app (`reconcilerImage: true`)."""

    manifests_dir: Path
    # The named build contexts `tools` and `wheels` that localenv gathers (localenv/reconciler_inputs.py).
    build_inputs: Path
    base_image: Optional[str]  # the Dockerfile's RECONCILER_BASE_IMAGE; None: its default


@dataclass(frozen=True)
class UnitStack:
    """A unit stack's unit, and the stack it takes its cluster and image from."""

    name: str
    parent_stack: str  # a StackReference name: pulumi-gitops:infraStack, else `<org>/<project>/<stack without .unit>`


class _Reader:
    """Typed access to one config namespace, with errors that name the file and key."""

    def __init__(self, config: pulumi.Config, stack: str) -> None:
        self._config = config
        self.stack_file = f"Pulumi.{stack}.yaml"

    def fail(self, key: str, problem: str) -> StackConfigError:
        return StackConfigError(f"{self.stack_file}: {CONFIG_NAMESPACE}:{key}: {problem}")

    def text(self, key: str) -> Optional[str]:
        """An optional text (Pulumi.yaml's default is empty): None when empty."""
        value = self._config.get(key)
        return None if value in (None, "") else value

    def declared_text(self, key: str) -> str:
        """A text whose default Pulumi.yaml gives: the engine always passes a value."""
        value = self.text(key)
        if value is None:
            raise self.fail(key, "is empty; give it a value, or remove it from the stack file to get Pulumi.yaml's default")
        return value

    def required_text(self, key: str, why: str) -> str:
        value = self.text(key)
        if value is None:
            raise self.fail(key, f"is required {why}; set it with `pulumi config set {key} VALUE`")
        return value

    def flag(self, key: str) -> bool:
        try:
            value = self._config.get_bool(key)
        except pulumi.ConfigTypeError:
            raise self.fail(key, "must be true or false") from None
        return self._declared(key, value)

    def number(self, key: str, minimum: int = 0) -> int:
        try:
            value = self._declared(key, self._config.get_int(key))
        except pulumi.ConfigTypeError:
            raise self.fail(key, "must be a whole number") from None
        if value < minimum:
            raise self.fail(key, f"must be at least {minimum}, got {value}")
        return value

    def strings(self, key: str) -> list[str]:
        value = self._declared(key, self._object(key))
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, 'must be a list of non-empty strings, e.g. ["a", "b"]')
        return list(value)

    def string_map(self, key: str) -> dict[str, str]:
        # Pulumi.yaml declares no default for a map without a schema: unset is empty.
        value = self._object(key) or {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self.fail(key, 'must be a map of strings, e.g. {"BASE_IMAGE": "python:3.12-slim"}')
        return dict(value)

    def secret(self, key: str) -> Optional[pulumi.Output[str]]:
        if not self._config.get(key):
            return None
        return self._config.require_secret(key)

    def secret_map(self, key: str) -> dict[str, pulumi.Output[str]]:
        """A map of names to secret strings; every value must be set with --secret, so Git holds only ciphertext."""
        value = self._declared(key, self._object(key))
        how = f"set each with `pulumi config set --secret --path '{CONFIG_NAMESPACE}:{key}.NAME' VALUE`"
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self.fail(key, f"must be a map of strings; {how}")
        plaintext = self._plaintext_entries(key) if value else []
        if plaintext or (value and not is_config_secret(self._config.full_key(key))):
            names = ", ".join(plaintext) or "the map"
            raise self.fail(key, f"holds plaintext ({names}) in {self.stack_file}; remove it and {how}")
        return {name: pulumi.Output.secret(item) for name, item in value.items()}

    def _plaintext_entries(self, key: str) -> list[str]:
        """Names in the stack file whose value is not ciphertext (`--path` lets plain and secure values mix)."""
        try:
            config = (yaml.safe_load(Path(self.stack_file).read_text()) or {}).get("config") or {}
        except (OSError, yaml.YAMLError, AttributeError):
            return []  # config that does not come from the stack file: is_config_secret still guards the map
        entries = config.get(self._config.full_key(key))
        if not isinstance(entries, dict) or "secure" in entries:
            return []
        return sorted(name for name, item in entries.items() if not (isinstance(item, dict) and "secure" in item))

    def structured(self, key: str) -> Any:
        """Structured config (a map or list) as written, None when unset; the caller checks its shape."""
        return self._object(key)

    def _object(self, key: str) -> Any:
        try:
            return self._config.get_object(key)
        except pulumi.ConfigTypeError:
            raise self.fail(key, "must be valid JSON/YAML structured config") from None

    def _declared(self, key: str, value: Any) -> Any:
        """Defaults live in Pulumi.yaml only; the engine passes them to the program like any value."""
        if value is None:
            raise self.fail(key, "has no value; Pulumi.yaml declares its default, which the engine passes to the program")
        return value


def _project_path(value: str) -> Path:
    # Pulumi runs the program with the project folder as working directory.
    return (Path.cwd() / value).resolve()


def _read_kubeconfig(read: _Reader, path: Path, context: Optional[str]) -> tuple[str, str]:
    """The kubeconfig's text and the API server of the chosen context."""
    try:
        text = path.read_text()
    except OSError as error:
        raise read.fail(
            "kubeconfig", f"cannot read {path} ({error.strerror}); start the local environment with `make cluster-up`"
        ) from None
    try:
        config = yaml.safe_load(text) or {}
        contexts = {c["name"]: c["context"] for c in config.get("contexts") or []}
        clusters = {c["name"]: c["cluster"] for c in config.get("clusters") or []}
    except (yaml.YAMLError, AttributeError, KeyError, TypeError):
        raise read.fail("kubeconfig", f"{path} is not a valid kubeconfig") from None
    name = context or config.get("current-context")
    if name not in contexts:
        raise read.fail("kubeContext", f"{path} has no context {name!r}; it has {sorted(contexts)}")
    server = clusters.get(contexts[name].get("cluster"), {}).get("server", "")
    return text, server


def read_stack_settings() -> StackSettings:
    read = _Reader(pulumi.Config(CONFIG_NAMESPACE), pulumi.get_stack())

    target = read.required_text("target", f"(one of {', '.join(TARGETS)})")
    if target not in TARGETS:
        raise read.fail("target", f"must be one of {', '.join(TARGETS)}, got {target!r}")

    app_name = read.declared_text("appName")
    protect = read.flag("protect")
    registry = _registry_args(read, target, app_name)
    cluster = _cluster_args(read, target, app_name)

    docker_host = read.text("dockerHost") or os.environ.get("DOCKER_HOST") or None
    kubernetes_version = read.declared_text("kubernetesVersion")
    if kubernetes_version not in supported_versions():
        raise read.fail(
            "kubernetesVersion",
            f"{kubernetes_version!r} has no API schemas to check the manifests against; use one of {', '.join(supported_versions())}",
        )
    awaits = read.declared_text("awaits")
    if awaits not in AWAIT_MODES:
        raise read.fail("awaits", f"must be one of {', '.join(AWAIT_MODES)}, got {awaits!r}")
    return StackSettings(
        target=target,
        app_name=app_name,
        app_dir=_project_path(read.declared_text("appDir")),
        manifests_dir=_project_path(read.declared_text("manifestsDir")),
        default_namespace=read.declared_text("defaultNamespace"),
        review_namespace=_review_namespace(read),
        require_clean_manifests=read.flag("requireCleanManifests"),
        protect=protect,
        image_build_args=read.string_map("imageBuildArgs"),
        image_platforms=read.strings("imagePlatforms"),
        image_builder=read.text("imageBuilder"),
        docker_host=docker_host,
        kubernetes_version=kubernetes_version,
        server_dry_run=read.flag("serverDryRun"),
        awaits=awaits,
        secrets=read.secret_map("secrets"),
        registry=registry,
        cluster=cluster,
        reconciler=_reconciler_settings(read),
        **_unit_settings(read),
    )


def _unit_settings(read: _Reader) -> dict[str, Any]:
    """`units` and `unit`: the first is the same on a stack and its unit stacks (the config file is copied)."""
    raw = read.structured("units")
    try:
        units = None if units_off(raw) else read_unit_settings(raw, read.stack_file)
    except UnitError as error:
        raise StackConfigError(str(error)) from None
    name = read.text("unit")
    if name is None:
        return {"units": units}
    problem = unit_name_problem(name)
    if problem:
        raise read.fail("unit", problem)
    if units is None:
        raise read.fail("unit", f"is {name!r} but {CONFIG_NAMESPACE}:units is not set; a unit stack's config is its"
                                " parent's file, which declares the units")
    parent = read.text("infraStack")
    if parent is None:
        try:
            parent = parent_stack_name(pulumi.get_stack(), name)
        except UnitError as error:
            raise read.fail("infraStack", str(error)) from None
        organization = pulumi.get_organization()
        if organization:
            parent = f"{organization}/{pulumi.get_project()}/{parent}"
    return {"units": units, "unit": UnitStack(name=name, parent_stack=parent)}


def _reconciler_settings(read: _Reader) -> Optional[ReconcilerSettings]:
    if not read.flag("reconcilerImage"):
        return None
    build_inputs = _project_path(read.declared_text("reconcilerBuildInputs"))
    missing = [name for name in ("tools", "wheels") if not (build_inputs / name).is_dir()]
    if missing:
        raise read.fail(
            "reconcilerBuildInputs",
            f"{build_inputs} has no {' or '.join(missing)} folder; `python -m localenv up` gathers them (the image is "
            "built from the pinned tools and downloaded wheels, nothing is fetched while it builds)",
        )
    return ReconcilerSettings(
        manifests_dir=_project_path(read.declared_text("reconcilerManifestsDir")),
        build_inputs=build_inputs,
        base_image=read.text("reconcilerBaseImage"),
    )


def _review_namespace(read: _Reader) -> Optional[str]:
    namespace = read.text("reviewNamespace")
    problem = namespace_problem(namespace) if namespace is not None else ""
    if problem:
        raise read.fail("reviewNamespace", f"{namespace!r} {problem}")
    return namespace


def _registry_args(read: _Reader, target: str, app_name: str) -> RegistryArgs:
    if target == "local":
        return RegistryArgs(
            target=target,
            repository_name=app_name,
            local_address=read.required_text("registryAddress", "for the local target"),
            local_username=read.text("registryUsername"),
            local_password=read.secret("registryPassword"),
        )
    return RegistryArgs(
        target=target,
        repository_name=app_name,
        immutable_tags=read.flag("ecrImmutableTags"),
        keep_tagged_images=read.number("ecrKeepTaggedImages", minimum=1),
        untagged_expiry_days=read.number("ecrUntaggedExpiryDays", minimum=1),
    )


def _cluster_args(read: _Reader, target: str, app_name: str) -> ClusterArgs:
    if target == "local":
        kubeconfig_path = _project_path(read.required_text("kubeconfig", "for the local target"))
        context = read.text("kubeContext")
        kubeconfig, server = _read_kubeconfig(read, kubeconfig_path, context)
        return ClusterArgs(target=target, local_kubeconfig=kubeconfig, local_context=context, local_server=server)

    zones = read.strings("availabilityZones")
    region = pulumi.Config("aws").get("region")
    if not region:
        raise read.fail("target", "is aws but aws:region is not set; set it with `pulumi config set aws:region us-east-1`")
    if len(set(zones)) < 2:
        raise read.fail("availabilityZones", "needs at least two distinct zones, e.g. [\"us-east-1a\", \"us-east-1b\"]")
    vpc_cidr = read.declared_text("vpcCidr")
    try:
        ipaddress.ip_network(vpc_cidr)
    except ValueError:
        raise read.fail("vpcCidr", f"{vpc_cidr!r} is not a CIDR block like 10.0.0.0/16") from None

    min_size = read.number("nodeMinSize", minimum=1)
    desired_size = read.number("nodeDesiredSize", minimum=1)
    max_size = read.number("nodeMaxSize", minimum=1)
    if not min_size <= desired_size <= max_size:
        raise read.fail(
            "nodeDesiredSize",
            f"needs nodeMinSize <= nodeDesiredSize <= nodeMaxSize, got {min_size} <= {desired_size} <= {max_size}",
        )
    public_access = read.flag("endpointPublicAccess")
    private_access = read.flag("endpointPrivateAccess")
    if not (public_access or private_access):
        raise read.fail("endpointPrivateAccess", "cannot be false while endpointPublicAccess is false: nothing could reach the cluster")

    return ClusterArgs(
        target=target,
        name_prefix=app_name,
        region=region,
        availability_zones=zones,
        vpc_cidr=vpc_cidr,
        single_nat_gateway=read.flag("singleNatGateway"),
        kubernetes_version=read.declared_text("kubernetesVersion"),
        log_types=read.strings("clusterLogTypes"),
        endpoint_public_access=public_access,
        endpoint_private_access=private_access,
        public_access_cidrs=read.strings("publicAccessCidrs"),
        node_instance_types=read.strings("nodeInstanceTypes"),
        node_min_size=min_size,
        node_desired_size=desired_size,
        node_max_size=max_size,
        node_disk_size_gb=read.number("nodeDiskSizeGb", minimum=20),
    )
