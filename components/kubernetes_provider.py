"""The Kubernetes provider every stack deploys through: a stack's own cluster, or a unit stack's parent's."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

# The provider's own client limit (50 requests/s) is what a refresh of 1,000
# objects waits on (71 s; 26 s at 200/s, bench/scale_compare.py); the API
# server still protects itself with priority and fairness.
KUBE_CLIENT_QPS = 200
KUBE_CLIENT_BURST = 400


def kubernetes_provider(
    name: str, kubeconfig: pulumi.Input[str], context: Optional[str], opts: pulumi.ResourceOptions
) -> k8s.Provider:
    return k8s.Provider(
        name,
        kubeconfig=kubeconfig,
        context=context,
        kube_client_settings=k8s.KubeClientSettingsArgs(qps=KUBE_CLIENT_QPS, burst=KUBE_CLIENT_BURST),
        # A ConfigMap's or Secret's new data is an update in place, as kubectl and Flux apply it, not a
        # delete-and-create that leaves the object briefly missing and counts against the deletion guard.
        # One marked `immutable: true` is still replaced: the API server refuses its change.
        enable_config_map_mutable=True,
        enable_secret_mutable=True,
        opts=opts,
    )
