"""Realistic manifest sets of any size, for the scale benchmark and the scale test.

A set is a small platform: one CRD (Widget), and tenants, each a Namespace
with a Role and a RoleBinding, holding apps of six objects each (ServiceAccount,
ConfigMap, Secret, Deployment, Service and a Widget); extra ConfigMaps make the
count exact. One object per file, so a commit changes exactly the objects whose
files it touches (each object is stamped with the last commit of its own file).

    base = ManifestSet.generate(1000, "s1k")
    base.write(repo / "manifests")          # ${image:app} in every Deployment
    changed = base.with_changes(0.10)       # 10% of the objects get a new revision
    smaller = changed.without(0.10)         # 10% of the objects removed, whole apps first
    units = base.in_units()                 # the same objects in folders of ~100, one unit each

Every object carries the label SET_LABEL=<prefix>, and the prefix names every
namespace and the CRD's group, so sets with different prefixes never share an
object on one cluster.
"""

from __future__ import annotations

import base64
import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

SET_LABEL = "bench.pulumi-gitops.dev/set"
NODE_LABEL = "bench.pulumi-gitops.dev/node"
OBJECTS_PER_TENANT_BASE = 3  # Namespace, Role, RoleBinding
UNIT_OBJECTS = 100  # objects per unit folder of ManifestSet.in_units
PLATFORM_UNIT = "platform"  # its folder holding the CRD and the Namespaces
APP_KINDS = ("Deployment", "ConfigMap", "Secret", "Service", "Widget", "ServiceAccount")
# Removing an app takes its objects in this order: dependents before what they use.
REMOVAL_ORDER = ("Widget", "Service", "Deployment", "Secret", "ConfigMap", "ServiceAccount")
API_VERSIONS = {
    "Namespace": "v1",
    "ServiceAccount": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "Role": "rbac.authorization.k8s.io/v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1",
    "CustomResourceDefinition": "apiextensions.k8s.io/v1",
}
# Kinds as `kubectl get` names them (the Widget's is per set: see ManifestSet.resource).
RESOURCES = {
    "Namespace": "namespaces",
    "ServiceAccount": "serviceaccounts",
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "Service": "services",
    "Deployment": "deployments.apps",
    "Role": "roles.rbac.authorization.k8s.io",
    "RoleBinding": "rolebindings.rbac.authorization.k8s.io",
    "CustomResourceDefinition": "customresourcedefinitions.apiextensions.k8s.io",
}


@dataclass(frozen=True)
class SetObject:
    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str
    path: str  # relative to the manifests folder
    app: Optional[str] = None
    revision: int = 0


@dataclass(frozen=True)
class ManifestSet:
    prefix: str
    objects: tuple[SetObject, ...]
    # Pods of this set's Deployments go to the node labelled NODE_LABEL=<node> (tainted alike), if given.
    node: Optional[str] = None

    @classmethod
    def generate(cls, size: int, prefix: str, node: Optional[str] = None) -> "ManifestSet":
        """Exactly `size` objects (at least 10); tenants get about 50 objects each."""
        if size < 10:
            raise ValueError(f"a set needs at least 10 objects (one tenant with one app), got {size}")
        tenants = max(1, round(size / 50))
        apps = (size - 1 - OBJECTS_PER_TENANT_BASE * tenants) // len(APP_KINDS)
        objects = [SetObject("CustomResourceDefinition", "", f"widgets.{prefix}.bench.pulumi-gitops.dev",
                             "00-cluster/widgets-crd.yaml")]
        namespaces = [f"{prefix}-t{t:02d}" for t in range(tenants)]
        for namespace in namespaces:
            objects += [
                SetObject("Namespace", "", namespace, f"{namespace}/00-namespace.yaml"),
                SetObject("Role", namespace, "app-reader", f"{namespace}/10-role.yaml"),
                SetObject("RoleBinding", namespace, "app-reader", f"{namespace}/11-rolebinding.yaml"),
            ]
        for a in range(apps):
            namespace, app = namespaces[a % tenants], f"app-{a:03d}"
            for kind in APP_KINDS:
                name = app if kind != "ConfigMap" else f"{app}-config"
                objects.append(SetObject(kind, namespace, name, f"{namespace}/{app}/{kind.lower()}.yaml", app=app))
        for extra in range(size - len(objects)):
            objects.append(
                SetObject("ConfigMap", namespaces[0], f"shared-{extra:02d}", f"{namespaces[0]}/shared/config-{extra:02d}.yaml")
            )
        return cls(prefix, tuple(objects), node)

    def in_units(self, objects_per_unit: int = UNIT_OBJECTS) -> "ManifestSet":
        """The same objects laid out for `split: folders` units of about `objects_per_unit` objects each.

        The CRD and the Namespaces go to the folder PLATFORM_UNIT, so every other unit depends on it (the
        units' automatic dependencies); the tenants' other objects go, whole tenants at a time, to folders
        `apps-NN` (`apps-00/<namespace>/<app>/deployment.yaml`).
        """
        tenants = self.namespaces
        per_tenant = max(1, sum(1 for obj in self.objects if obj.namespace) // max(1, len(tenants)))
        tenants_per_unit = max(1, round(objects_per_unit / per_tenant))
        folder = {namespace: f"apps-{index // tenants_per_unit:02d}" for index, namespace in enumerate(tenants)}

        def moved(obj: SetObject) -> SetObject:
            if obj.kind in ("CustomResourceDefinition", "Namespace"):
                return dataclasses.replace(obj, path=f"{PLATFORM_UNIT}/{obj.path.replace('/', '-')}")
            return dataclasses.replace(obj, path=f"{folder[obj.namespace]}/{obj.path}")

        return dataclasses.replace(self, objects=tuple(moved(obj) for obj in self.objects))

    @property
    def group(self) -> str:
        return f"{self.prefix}.bench.pulumi-gitops.dev"

    @property
    def namespaces(self) -> list[str]:
        return [obj.name for obj in self.objects if obj.kind == "Namespace"]

    def resource(self, kind: str) -> str:
        return f"widgets.{self.group}" if kind == "Widget" else RESOURCES[kind]

    def count(self, fraction: float) -> int:
        return max(1, round(len(self.objects) * fraction))

    def with_changes(self, fraction: float) -> "ManifestSet":
        """A new revision of the first apps' objects, Deployments first (each change rolls a Deployment out)."""
        chosen = {id(obj) for obj in [o for o in self.objects if o.app][: self.count(fraction)]}
        return dataclasses.replace(
            self,
            objects=tuple(
                dataclasses.replace(obj, revision=obj.revision + 1) if id(obj) in chosen else obj
                for obj in self.objects
            ),
        )

    def without(self, fraction: float) -> "ManifestSet":
        """The last apps removed, whole apps first, dependents before what they use."""
        rank = {kind: i for i, kind in enumerate(REMOVAL_ORDER)}
        apps = sorted({obj.app for obj in self.objects if obj.app}, reverse=True)
        by_app = {app: sorted((o for o in self.objects if o.app == app), key=lambda o: rank[o.kind]) for app in apps}
        removed = {id(obj) for obj in [o for app in apps for o in by_app[app]][: self.count(fraction)]}
        return dataclasses.replace(self, objects=tuple(obj for obj in self.objects if id(obj) not in removed))

    def diff(self, other: "ManifestSet") -> tuple[int, int]:
        """(changed, removed) objects going from self to other."""
        mine = {(o.kind, o.namespace, o.name): o.revision for o in self.objects}
        theirs = {(o.kind, o.namespace, o.name): o.revision for o in other.objects}
        changed = sum(1 for key, rev in theirs.items() if key in mine and mine[key] != rev)
        return changed, len(set(mine) - set(theirs))

    def body(self, obj: SetObject, image: str, extra_labels: Optional[dict[str, str]] = None) -> dict[str, Any]:
        labels = {SET_LABEL: self.prefix, **(extra_labels or {})}
        metadata: dict[str, Any] = {"name": obj.name, "labels": labels}
        if obj.namespace:
            metadata["namespace"] = obj.namespace
        if obj.app:
            labels["app.kubernetes.io/name"] = obj.app
        revision = f"r{obj.revision}"
        kind = obj.kind
        body: dict[str, Any] = {"apiVersion": API_VERSIONS.get(kind, f"{self.group}/v1"), "kind": kind, "metadata": metadata}
        if kind == "CustomResourceDefinition":
            body["spec"] = {
                "group": self.group,
                "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
                "scope": "Namespaced",
                "versions": [{
                    "name": "v1", "served": True, "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {
                            "app": {"type": "string"},
                            "replicas": {"type": "integer", "minimum": 0},
                            "revision": {"type": "string"},
                        }},
                    }}},
                }],
            }
        elif kind in ("Namespace", "ServiceAccount"):
            labels["bench.pulumi-gitops.dev/revision"] = revision
        elif kind == "Role":
            body["rules"] = [{"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list", "watch"]},
                             {"apiGroups": [self.group], "resources": ["widgets"], "verbs": ["get", "list", "watch"]}]
        elif kind == "RoleBinding":
            body["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "app-reader"}
            body["subjects"] = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                 "name": f"system:serviceaccounts:{obj.namespace}"}]
        elif kind == "ConfigMap":
            body["data"] = {"LOG_LEVEL": "info", "REVISION": revision, "FEATURES": "search,checkout,recommendations",
                            "settings.json": '{"timeoutSeconds": 30, "retries": 3, "cache": {"ttl": 300}}'}
        elif kind == "Secret":
            body["type"] = "Opaque"
            body["data"] = {key: base64.b64encode(value.encode()).decode() for key, value in
                            {"DATABASE_URL": f"postgres://{obj.app}:{revision}@db:5432/{obj.app}",
                             "API_TOKEN": f"token-{obj.namespace}-{obj.name}-{revision}"}.items()}
        elif kind == "Service":
            labels["bench.pulumi-gitops.dev/revision"] = revision
            body["spec"] = {"selector": {"app.kubernetes.io/name": obj.app},
                            "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
        elif kind == "Deployment":
            body["spec"] = self._deployment_spec(obj, image, revision)
        elif kind == "Widget":
            body["spec"] = {"app": obj.app, "replicas": 1, "revision": revision}
        return body

    def _deployment_spec(self, obj: SetObject, image: str, revision: str) -> dict[str, Any]:
        pod_labels = {"app.kubernetes.io/name": obj.app}
        pod: dict[str, Any] = {
            "serviceAccountName": obj.app,
            "containers": [{
                "name": "app",
                "image": image,
                "ports": [{"name": "http", "containerPort": 8080}],
                "env": [{"name": "REVISION", "value": revision}],
                "envFrom": [{"configMapRef": {"name": f"{obj.app}-config"}}, {"secretRef": {"name": obj.app}}],
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5},
                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True},
            }],
        }
        if self.node:
            pod["nodeSelector"] = {NODE_LABEL: self.node}
            pod["tolerations"] = [{"key": NODE_LABEL, "operator": "Equal", "value": self.node, "effect": "NoSchedule"}]
        return {
            "replicas": 1,
            "selector": {"matchLabels": dict(pod_labels)},
            "template": {"metadata": {"labels": dict(pod_labels)}, "spec": pod},
        }

    def files(self, image: str = "${image:app}", extra_labels: Optional[dict[str, str]] = None) -> dict[str, str]:
        """Path (relative to the manifests folder) to YAML text."""
        return {obj.path: yaml.safe_dump(self.body(obj, image, extra_labels), sort_keys=False) for obj in self.objects}

    def write(self, folder: Path, image: str = "${image:app}", extra_labels: Optional[dict[str, str]] = None) -> None:
        """Makes `folder` hold exactly this set's files (files of removed objects are deleted)."""
        if folder.exists():
            shutil.rmtree(folder)
        for path, text in self.files(image, extra_labels).items():
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    def expected(self) -> dict[str, set[tuple[str, str]]]:
        """kubectl resource name to the (namespace, name) pairs of this set's objects."""
        found: dict[str, set[tuple[str, str]]] = {}
        for obj in self.objects:
            found.setdefault(self.resource(obj.kind), set()).add((obj.namespace, obj.name))
        return found

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for obj in self.objects:
            kinds[obj.kind] = kinds.get(obj.kind, 0) + 1
        return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
