"""Kubernetes' own rules for names, label and annotation keys and values (k8s.io/apimachinery validation).

The API server refuses an object that breaks them, so the loader refuses it
first, before anything of the commit is applied.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")

LABEL_MAX = 63
SUBDOMAIN_MAX = 253
ANNOTATIONS_MAX_BYTES = 256 * 1024


class _Rule:
    def __init__(self, pattern: re.Pattern[str], max_length: int, description: str) -> None:
        self.pattern = pattern
        self.max_length = max_length
        self.description = description

    def problem(self, value: str) -> str:
        """Why value breaks the rule, or "" when it follows it."""
        if len(value) > self.max_length:
            return f"is {len(value)} characters long, over the limit of {self.max_length} for {self.description}"
        if not self.pattern.fullmatch(value):
            return f"is not {self.description}"
        return ""


class _PathSegment(_Rule):
    """RBAC and flow-control names: anything a URL path segment can hold (`system:controller:x` is fine)."""

    def __init__(self) -> None:
        super().__init__(re.compile(r"[^/%]+"), SUBDOMAIN_MAX, "a path segment (no '/' or '%', not '.' or '..')")

    def problem(self, value: str) -> str:
        return f"is not {self.description}" if value in (".", "..") else super().problem(value)


_SUBDOMAIN = _Rule(
    DNS1123_SUBDOMAIN,
    SUBDOMAIN_MAX,
    "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending alphanumeric)",
)
_LABEL = _Rule(
    DNS1123_LABEL, LABEL_MAX, "a DNS-1123 label (lowercase letters, digits and '-', starting and ending alphanumeric)"
)
_DNS1035 = _Rule(
    DNS1035_LABEL, LABEL_MAX, "a DNS-1035 label (lowercase letters, digits and '-', starting with a letter)"
)
_PATH = _PathSegment()

# (group, kind) -> rule, where the API server's rule is not the default subdomain.
_NAME_RULES = {
    ("", "Namespace"): _LABEL,
    ("", "Service"): _DNS1035,
    # The Job controller puts the name in a label of every pod; CronJob adds an 11-character suffix to it.
    ("batch", "Job"): _Rule(DNS1123_SUBDOMAIN, LABEL_MAX, _SUBDOMAIN.description + " of at most 63 characters"),
    ("batch", "CronJob"): _Rule(DNS1123_SUBDOMAIN, 52, _SUBDOMAIN.description + " of at most 52 characters"),
    ("rbac.authorization.k8s.io", "Role"): _PATH,
    ("rbac.authorization.k8s.io", "ClusterRole"): _PATH,
    ("rbac.authorization.k8s.io", "RoleBinding"): _PATH,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _PATH,
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"): _PATH,
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): _PATH,
}


def name_problem(group: str, kind: str, name: str) -> str:
    """Why metadata.name is refused for this kind, or ""."""
    return _NAME_RULES.get((group, kind), _SUBDOMAIN).problem(name)


def namespace_problem(namespace: str) -> str:
    return _LABEL.problem(namespace)


def qualified_key_problem(key: str) -> str:
    """Why a label or annotation key is refused: `[prefix/]name`, prefix a DNS subdomain, name 63 characters."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "has an empty prefix before '/'"
    if prefix and _SUBDOMAIN.problem(prefix):
        return f"has the prefix {prefix!r}, which {_SUBDOMAIN.problem(prefix)}"
    if not name:
        return "has an empty name"
    if len(name) > LABEL_MAX:
        return f"has a name part of {len(name)} characters, over the limit of {LABEL_MAX}"
    if not _QUALIFIED_NAME.fullmatch(name):
        return "has a name part that is not alphanumeric characters, '-', '_' or '.', starting and ending alphanumeric"
    return ""


def label_value_problem(value: str) -> str:
    if len(value) > LABEL_MAX:
        return f"is {len(value)} characters long, over the limit of {LABEL_MAX} for a label value"
    if value and not _QUALIFIED_NAME.fullmatch(value):
        return "is not empty or alphanumeric characters, '-', '_' or '.', starting and ending alphanumeric"
    return ""


def label_maps(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(location, labels) of the object's labels and of the pod and job templates it holds, which the API checks too."""
    yield "metadata.labels", _get(body, "metadata", "labels")
    for template in ("spec.template", "spec.jobTemplate", "spec.jobTemplate.spec.template"):
        labels = _get(body, *template.split("."), "metadata", "labels")
        if labels is not None:
            yield f"{template}.metadata.labels", labels
    for selector in ("spec.selector.matchLabels", "spec.jobTemplate.spec.selector.matchLabels"):
        labels = _get(body, *selector.split("."))
        if labels is not None:
            yield selector, labels


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
