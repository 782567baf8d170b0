"""A ValidatingAdmissionPolicy that refuses ConfigMaps labelled `forbidden` in one namespace, as a cluster's policy would."""

from __future__ import annotations

import subprocess
import time

REFUSAL = "ConfigMaps labelled forbidden are refused by policy"


def forbidden_label_policy(namespace: str) -> str:
    name = f"{namespace}-no-forbidden"
    return f"""\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: {name}}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - {{apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [configmaps]}}
  validations:
    - expression: "!has(object.metadata.labels) || !('forbidden' in object.metadata.labels)"
      message: {REFUSAL}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: {name}}}
spec:
  policyName: {name}
  validationActions: [Deny]
  matchResources:
    namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {namespace}}}}}
"""


def kubectl(kubeconfig: str, *args: str, text: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], input=text, capture_output=True, text=True, timeout=120)


def install(kubeconfig: str, namespace: str, timeout: float = 60) -> None:
    """Apply the policy and wait until the API server enforces it (it compiles policies in the background)."""
    applied = kubectl(kubeconfig, "apply", "-f", "-", text=forbidden_label_policy(namespace))
    assert applied.returncode == 0, applied.stderr
    probe = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: probe, namespace: {namespace}, labels: {{forbidden: 'yes'}}}}\n"
    deadline = time.monotonic() + timeout
    while REFUSAL not in kubectl(kubeconfig, "apply", "--dry-run=server", "-f", "-", text=probe).stderr:
        assert time.monotonic() < deadline, "the admission policy never became active"
        time.sleep(0.5)


def remove(kubeconfig: str, namespace: str) -> None:
    kubectl(kubeconfig, "delete", "-f", "-", "--ignore-not-found", text=forbidden_label_policy(namespace))
