"""What a unit stack deploys with: its parent stack's cluster and image, read through a StackReference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes_provider import kubernetes_provider
from manifest_loader.units import PARENT_OUTPUTS_READ_BY_UNITS


@dataclass
class ParentStackArgs:
    stack_name: str  # as a StackReference takes it, e.g. "organization/pulumi-gitops/local"
    kube_context: Optional[str] = None  # the kubeconfig's context to use; None: its current one


class ParentStack(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]
    image_ref: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: ParentStackArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("pulumi-gitops:units:ParentStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        reference = pulumi.StackReference(f"{name}-ref", stack_name=args.stack_name, opts=child)
        kubeconfig, image_ref = PARENT_OUTPUTS_READ_BY_UNITS
        # require_output fails the run naming the stack and the output when the parent has not exported it yet.
        self.kubeconfig = pulumi.Output.secret(reference.require_output(kubeconfig))
        self.image_ref = reference.require_output(image_ref)
        self.provider = kubernetes_provider(f"{name}-k8s", self.kubeconfig, args.kube_context, child)
        self.register_outputs({"kubeconfig": self.kubeconfig, "image_ref": self.image_ref})
