"""The rendered objects sent to the API server as a server-side apply dry-run, all of them, before any is applied.

What the offline checks cannot know, the API server does: admission policies
and webhooks, quotas, immutable fields of objects that already exist, and
custom resources whose CRD is in the cluster. Flux's kustomize-controller
does the same dry-run before it applies. Nothing is stored by a dry-run. An
immutable field that the provider replaces the object for is no refusal
(provider_replacements.py): the change is a replacement.

Two kinds of objects cannot be dry-run before their commit is applied, and
are left to the offline checks: objects in a namespace that the same commit
creates, and custom resources whose CRD the same commit adds.
"""

from __future__ import annotations

import base64
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .errors import ManifestProblem, object_problem
from .kube_client import KubeClient, Response
from .model import ManifestObject
from .placeholders import SECRET_FIELDS, is_secret
from .provider_replacements import replaced_by_provider

FIELD_MANAGER = "pulumi-gitops-dry-run"
PARALLEL_REQUESTS = 8
_NAMESPACE = ("", "Namespace")
_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")


@dataclass
class DryRunResult:
    reachable: bool
    problems: list[ManifestProblem] = field(default_factory=list)
    checked: int = 0
    skipped: list[str] = field(default_factory=list)  # "<source> Kind/name: why", for the log
    replaced: list[str] = field(default_factory=list)  # "<source> Kind/name: fields", immutable fields the provider replaces on


@dataclass(frozen=True)
class _Resource:
    plural: str
    namespaced: bool


def server_dry_run(client: KubeClient, objects: list[ManifestObject], rendered: list[dict[str, Any]]) -> DryRunResult:
    """Dry-run every rendered object (same order as objects); reachable=False when the cluster does not answer."""
    if client.request("GET", "/version").status == 0:
        return DryRunResult(reachable=False)
    result = DryRunResult(reachable=True)
    new_namespaces = {obj.key.name for obj in objects if (obj.key.group, obj.key.kind) == _NAMESPACE}
    new_kinds = {_crd_kind(obj) for obj in objects if (obj.key.group, obj.key.kind) == _CRD}
    resources = _discover(client, {body["apiVersion"] for body in rendered})
    missing_namespaces = {ns for ns in new_namespaces if client.request("GET", f"/api/v1/namespaces/{ns}").status == 404}

    requests = []
    for obj, body in zip(objects, rendered):
        served = resources.get(body["apiVersion"], {})
        resource = served.get(obj.key.kind)
        if resource is None:
            if (obj.key.group, obj.key.kind) in new_kinds:
                result.skipped.append(f"{obj.source} {obj.ref}: its CustomResourceDefinition comes with this commit")
            else:
                result.problems.append(
                    object_problem(
                        obj,
                        f"the cluster does not serve {obj.key.kind} in {body['apiVersion']}",
                        "Add its CustomResourceDefinition, or fix apiVersion and kind.",
                        ("kind",),
                    )
                )
            continue
        if resource.namespaced and obj.key.namespace in missing_namespaces:
            result.skipped.append(f"{obj.source} {obj.ref}: its namespace {obj.key.namespace} comes with this commit")
            continue
        requests.append((obj, body, _apply_path(body["apiVersion"], resource, obj)))

    with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
        answers = list(pool.map(lambda request: _dry_run(client, request[1], request[2]), requests))
    for (obj, body, _), answer in zip(requests, answers):
        result.checked += 1
        if answer.status in (200, 201):
            continue
        fields = _refused_fields(answer)
        if answer.status == 422 and replaced_by_provider(obj.key.group, obj.key.kind, fields):
            result.replaced.append(f"{obj.source} {obj.ref}: {', '.join(fields)}")
        else:
            result.problems.append(_refusal(obj, body, answer))
    return result


def _refused_fields(answer: Response) -> list[str]:
    """The fields a 422 refusal names (`details.causes[].field`)."""
    details = answer.body.get("details") if isinstance(answer.body, dict) else None
    causes = details.get("causes") if isinstance(details, dict) else None
    return [cause.get("field", "") for cause in causes or () if isinstance(cause, dict)]


def _crd_kind(obj: ManifestObject) -> tuple[Any, Any]:
    spec = obj.body.get("spec") or {}
    return spec.get("group"), (spec.get("names") or {}).get("kind")


def _discover(client: KubeClient, api_versions: set[str]) -> dict[str, dict[str, _Resource]]:
    """apiVersion -> kind -> resource, from the discovery document of each group-version used."""
    found: dict[str, dict[str, _Resource]] = {}
    for api_version in sorted(api_versions):
        answer = client.request("GET", _group_version_path(api_version))
        resources = answer.body.get("resources", []) if answer.status == 200 and isinstance(answer.body, dict) else []
        found[api_version] = {
            item["kind"]: _Resource(item["name"], item.get("namespaced", False))
            for item in resources
            if "/" not in item["name"]  # subresources such as deployments/scale
        }
    return found


def _group_version_path(api_version: str) -> str:
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


def _apply_path(api_version: str, resource: _Resource, obj: ManifestObject) -> str:
    namespace = f"/namespaces/{obj.key.namespace}" if resource.namespaced else ""
    query = urllib.parse.urlencode({"dryRun": "All", "fieldManager": FIELD_MANAGER, "force": "true"})
    name = urllib.parse.quote(obj.key.name, safe="")
    return f"{_group_version_path(api_version)}{namespace}/{resource.plural}/{name}?{query}"


def _dry_run(client: KubeClient, body: dict[str, Any], path: str) -> Response:
    return client.request("PATCH", path, body, content_type="application/apply-patch+yaml")


def _refusal(obj: ManifestObject, body: dict[str, Any], answer: Response) -> ManifestProblem:
    status = answer.body if isinstance(answer.body, dict) else {}
    message = str(status.get("message") or answer.body or "no answer")
    reason = status.get("reason") or ""
    if is_secret(body):
        message = _redacted(message, body)
    if answer.status == 0:
        return object_problem(obj, "the API server did not answer its dry-run", "Retry when the cluster answers.")
    return object_problem(
        obj,
        f"the API server refuses it in a dry-run (HTTP {answer.status} {reason}): {message}",
        _ACTIONS.get(reason, "Fix the object, or the cluster policy that refuses it."),
    )


_ACTIONS = {
    "Invalid": "Fix the field the API server names; an immutable field needs the object deleted and created again.",
    "Forbidden": "The cluster refuses it (a quota, an admission policy or missing permissions): fix the object or the policy.",
    "NotFound": "Create what it refers to first (a namespace comes from a Namespace manifest) or fix the reference.",
}


def _redacted(message: str, body: dict[str, Any]) -> str:
    """The message without any value of the Secret's data, plain or base64, as the API server may quote one."""
    for field_name in SECRET_FIELDS:
        for value in (body.get(field_name) or {}).values():
            if not isinstance(value, str) or not value:
                continue
            message = message.replace(value, "[secret]")
            try:
                message = message.replace(base64.b64decode(value, validate=True).decode(), "[secret]")
            except ValueError:
                pass
    return message

