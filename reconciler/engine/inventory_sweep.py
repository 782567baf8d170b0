"""After a run that may have had no checkpoints was killed: delete the stack's objects that neither its state nor Git holds.

Such a run's creations are in the cluster but not in the state. The candidates are the objects carrying the stack's
label (manifest_loader/stamping.py) that the refreshed state does not hold. Each is judged by Git, through what the
loader stamped on it: the file (and document) it came from and the last commit that changed that file.
- That commit is not in the stack's repository, or its file there does not declare the object: another stack's, one
  with the same project and stack name elsewhere: left alone.
- The branch's head no longer declares it (a newer commit, a force-push): an orphan: deleted, and waited for.
- Else the next `up` creates it again, which adopts the live object (server-side apply, with force).
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional

from manifest_loader.kube_client import KubeClient, KubeconfigError
from manifest_loader.stamping import COMMIT_LABEL, SOURCE_ANNOTATION, STACK_LABEL, stack_label_value
from reconciler.errors import Temporary
from reconciler.settings.notification_settings import EventsTarget

from .checkpoints import last_state_resources
from .stack_session import StackSession

log = logging.getLogger("reconciler.recovery")
SWEEP_FAILED = "SweepFailed"
DELETE_WAIT = 180.0  # a Namespace takes its contents with it; the next `up` must not meet it terminating
Identity = tuple[str, str, str, str]  # apiVersion group, kind, namespace, name
FileAt = Callable[[str, str], Optional[str]]  # (commit, repository path) -> the file's text there, None when absent


@dataclass(frozen=True)
class LiveObject:
    path: str  # the object's API path
    identity: Identity
    commit: str  # the last commit that changed its file (label)
    source: str  # `<path>#<document>` (annotation)

    @property
    def file(self) -> str:
        return self.source.split("#", 1)[0]

    def describe(self) -> str:
        group, kind, namespace, name = self.identity
        return f"{kind}{'.' + group if group else ''} {namespace + '/' if namespace else ''}{name}"


@dataclass(frozen=True)
class Swept:
    deleted: tuple[str, ...]
    adopted: int  # left for the next `up` to take back
    foreign: int  # labelled like this stack, but not from its repository

    def describe(self) -> str:
        return f"{len(self.deleted)} orphaned object(s) deleted, {self.adopted} left for the next update to adopt"


@dataclass(frozen=True)
class Inventory:
    """What a sweep compares the cluster with: the stack's label, its cluster and the objects its state holds."""

    stack: str  # the reconciler's name for it (logs)
    label: str
    cluster: Optional[EventsTarget]  # None: no kubeconfig known
    held: frozenset[Identity]


def inventory_of(session: StackSession, project: str) -> Inventory:
    """Read after the recovery's refresh, so `held` is what the state holds now."""
    label = stack_label_value(project, session.spec.stack)
    held = frozenset(state_identities(last_state_resources(session, project)))
    return Inventory(session.spec.name, label, session.spec.events, held)


def sweep_inventory(inventory: Inventory, file_at: FileAt, head: str) -> Swept:
    """Raises Temporary (SweepFailed) when the stack's cluster cannot be listed or an orphan not deleted."""
    fields = {"stack": inventory.stack}
    if inventory.cluster is None:
        log.warning("no cluster is known for the stack (no kubeconfig): nothing swept", extra=fields)
        return Swept((), 0, 0)
    kubeconfig = inventory.cluster.kubeconfig
    try:
        client = KubeClient(kubeconfig.read_text(encoding="utf-8"), inventory.cluster.context)
    except (OSError, KubeconfigError) as error:
        raise Temporary(SWEEP_FAILED, f"cannot sweep the stack's objects: kubeconfig {kubeconfig}: {error}") from None
    deleted: list[str] = []
    adopted = foreign = 0
    for obj in labelled_objects(client, inventory.label):
        if obj.identity in inventory.held:
            continue
        verdict = judge(obj, file_at, head)
        if verdict == "foreign":
            foreign += 1
        elif verdict == "adopt":
            adopted += 1
        else:
            _delete(client, obj)
            deleted.append(obj.describe())
            log.warning("deleted %s: created by the interrupted run, in neither the state nor Git at %s", obj.describe(),
                        head[:12], extra=fields)
    return Swept(tuple(deleted), adopted, foreign)


def state_identities(resources: Iterable[Mapping[str, Any]]) -> set[Identity]:
    """The Kubernetes objects a state holds, by identity, from their outputs (the live object as last read)."""
    found = set()
    for resource in resources:
        if not resource.get("custom") or not str(resource.get("type", "")).startswith("kubernetes:"):
            continue
        outputs = resource.get("outputs") or {}
        metadata = outputs.get("metadata") or {}
        if outputs.get("kind") and metadata.get("name"):
            group = str(outputs.get("apiVersion", "")).rpartition("/")[0]
            found.add((group, str(outputs["kind"]), str(metadata.get("namespace") or ""), str(metadata["name"])))
    return found


def judge(obj: LiveObject, file_at: FileAt, head: str) -> str:
    """foreign, orphan or adopt (see the module's docstring)."""
    if not declares(file_at(obj.commit, obj.file), obj):
        return "foreign"
    return "adopt" if declares(file_at(head, obj.file), obj) else "orphan"


def declares(text: Optional[str], obj: LiveObject) -> bool:
    """Whether the file declares the object; one without a namespace there counts (the loader gives it the default)."""
    from reconciler.guard import declared_objects  # here: the guard reaches the workspace, which reaches recovery

    if text is None:
        return False
    group, kind, namespace, name = obj.identity
    return any((g, k, n) == (group, kind, name) and ns in ("", namespace)
               for g, k, ns, n in (declared_objects(obj.file, text) or {}))


def labelled_objects(client: KubeClient, label: str) -> list[LiveObject]:
    """Every object of every listable kind (each in its group's preferred version) carrying the stack's label."""
    selector = urllib.parse.urlencode({"labelSelector": f"{STACK_LABEL}={label}"})
    found = []
    for api, plural, namespaced in _listable_kinds(client):
        listed = client.request("GET", f"{api}/{plural}?{selector}")
        if listed.status in (403, 404, 405):
            # A kind this kubeconfig may not list (RBAC) is left out, and the log says so, rather than stalling recovery.
            log.warning("%s/%s cannot be listed (HTTP %s): not swept", api, plural, listed.status)
            continue
        if listed.status != 200 or not isinstance(listed.body, dict):
            raise Temporary(SWEEP_FAILED, f"cannot list the stack's objects: GET {api}/{plural} answered {listed.status or 'nothing'}")
        for item in listed.body.get("items") or []:
            metadata = item.get("metadata") or {}
            namespace = str(metadata.get("namespace") or "")
            where = f"/namespaces/{namespace}" if namespaced and namespace else ""
            group = api.removeprefix("/apis/").rpartition("/")[0] if api.startswith("/apis/") else ""
            found.append(LiveObject(
                path=f"{api}{where}/{plural}/{metadata['name']}",
                identity=(group, str(item.get("kind") or _kind_of(client, api, plural)), namespace, str(metadata["name"])),
                commit=str((metadata.get("labels") or {}).get(COMMIT_LABEL, "")),
                source=str((metadata.get("annotations") or {}).get(SOURCE_ANNOTATION, "")),
            ))
    return found


def _listable_kinds(client: KubeClient) -> list[tuple[str, str, bool]]:
    apis = ["/api/v1"] + [f"/apis/{group['preferredVersion']['groupVersion']}"
                          for group in _get(client, "/apis").get("groups") or []]
    kinds = []
    for api in apis:
        discovered = client.request("GET", api)
        if discovered.status != 200 or not isinstance(discovered.body, dict):
            # An aggregated API whose server is down (metrics, say): none of the stack's objects can be written there either.
            log.warning("%s answered %s to discovery: not swept", api, discovered.status or "nothing")
            continue
        for resource in discovered.body.get("resources") or []:
            verbs = set(resource.get("verbs") or ())
            if "/" not in resource["name"] and {"list", "delete"} <= verbs:
                kinds.append((api, resource["name"], bool(resource.get("namespaced"))))
    return kinds


def _kind_of(client: KubeClient, api: str, plural: str) -> str:
    # A list's items name their kind; some servers leave it out of each item.
    return next((r["kind"] for r in _get(client, api).get("resources") or [] if r["name"] == plural), "")


def _get(client: KubeClient, path: str) -> dict[str, Any]:
    response = client.request("GET", path)
    if response.status != 200 or not isinstance(response.body, dict):
        raise Temporary(SWEEP_FAILED, f"cannot list the stack's objects: GET {path.split('?')[0]} answered {response.status or 'nothing'}")
    return response.body


def _delete(client: KubeClient, obj: LiveObject) -> None:
    response = client.request("DELETE", obj.path, {"propagationPolicy": "Background"})
    if response.status not in (200, 202, 404):
        raise Temporary(SWEEP_FAILED, f"cannot delete {obj.describe()}, created by the interrupted run: HTTP {response.status}")
    deadline = time.monotonic() + DELETE_WAIT
    while client.request("GET", obj.path).status != 404:
        if time.monotonic() > deadline:
            raise Temporary(SWEEP_FAILED, f"{obj.describe()} was deleted but is still there after {DELETE_WAIT:.0f}s")
        time.sleep(0.5)
