"""The EKS kubeconfig is what `aws eks update-kubeconfig` writes: its current context reaches the cluster and
the user's token comes from `aws eks get-token` at use, so the kubeconfig holds no credential."""

from __future__ import annotations

import json

from components.kubeconfig import eks_kubeconfig


def resolve(kubeconfig: dict) -> tuple[dict, dict]:
    """What kubectl does with a kubeconfig: the current context's cluster and user."""
    context = next(c["context"] for c in kubeconfig["contexts"] if c["name"] == kubeconfig["current-context"])
    cluster = next(c["cluster"] for c in kubeconfig["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in kubeconfig["users"] if u["name"] == context["user"])
    return cluster, user


def test_the_current_context_reaches_the_endpoint_trusting_the_clusters_ca():
    kubeconfig = json.loads(eks_kubeconfig("web-prod", "https://ABC.gr7.eu-west-1.eks.amazonaws.com", "Q0EtZGF0YQ==", "eu-west-1"))

    cluster, _ = resolve(kubeconfig)

    assert (kubeconfig["apiVersion"], kubeconfig["kind"]) == ("v1", "Config")
    assert cluster == {"server": "https://ABC.gr7.eu-west-1.eks.amazonaws.com", "certificate-authority-data": "Q0EtZGF0YQ=="}


def test_the_user_gets_a_token_from_aws_eks_get_token_and_never_prompts():
    kubeconfig = json.loads(eks_kubeconfig("web-prod", "https://eks.example", "Q0E=", "eu-west-1"))

    _, user = resolve(kubeconfig)

    assert user == {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", "web-prod", "--region", "eu-west-1"],
            "interactiveMode": "Never",
        }
    }


def test_the_same_cluster_gives_the_same_text_so_the_output_never_shows_a_spurious_change():
    first = eks_kubeconfig("web-prod", "https://eks.example", "Q0E=", "eu-west-1")

    assert eks_kubeconfig("web-prod", "https://eks.example", "Q0E=", "eu-west-1") == first
    assert list(json.loads(first)) == sorted(json.loads(first))
