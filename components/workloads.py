"""The Git-tracked Kubernetes manifests, applied as one ConfigGroup through the cluster's provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s
from pulumi.output import Unknown

from manifest_loader import ManifestObject, render_objects, secret_names_used
from manifest_loader.stamping import stack_label_value, stamp_stack


@dataclass
class WorkloadsArgs:
    objects: list[ManifestObject]
    images: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    # What a preview shows while an image's digest is not known yet (it is being rebuilt): its tag.
    preview_images: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    # Values of `${secret:NAME}`, Pulumi secrets; only those the objects use are read.
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # What an `up` waits for before an object counts ready: kstatus, provider or none (manifest_loader.readiness).
    awaits: str = "provider"


def object_id(obj: ManifestObject) -> str:
    group, kind, namespace, name = obj.key
    return "/".join(part for part in (group or "core", kind, namespace, name) if part)


class Workloads(pulumi.ComponentResource):
    object_ids: list[str]

    def __init__(self, name: str, args: WorkloadsArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("pulumi-gitops:workloads:Workloads", name, None, opts)
        self.object_ids = [object_id(obj) for obj in args.objects]

        image_names = sorted(args.images)
        refs = pulumi.Output.all(*[_known_in_preview(args.images[n], args.preview_images.get(n)) for n in image_names])
        # A used secret makes the whole list a secret: the ConfigGroup's inputs are kept in the state too.
        secret_names = sorted(secret_names_used(args.objects) & set(args.secrets))
        secrets = pulumi.Output.all(*[pulumi.Output.secret(args.secrets[n]) for n in secret_names])
        stack_label = stack_label_value(pulumi.get_project(), pulumi.get_stack())
        rendered = pulumi.Output.all(refs, secrets).apply(
            lambda values: _labelled(render_objects(
                args.objects, images=dict(zip(image_names, values[0])), secrets=dict(zip(secret_names, values[1])),
                awaits=args.awaits,
            ), stack_label)
        )
        k8s.yaml.v2.ConfigGroup(f"{name}-manifests", objs=rendered, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"object_ids": self.object_ids})


def _labelled(bodies: list[dict], stack_label: str) -> list[dict]:
    """Every object carries its stack's label: the inventory a recovery sweeps after a run without checkpoints."""
    for body in bodies:
        stamp_stack(body, stack_label)
    return bodies


def _known_in_preview(ref: pulumi.Input[str], stand_in: Optional[pulumi.Input[str]]) -> pulumi.Output[str]:
    """`ref`, or `stand_in` while `ref` is unknown.

    The ConfigGroup plans none of its objects when any input is unknown, so a
    preview of an image rebuild would show every object deleted. Only a preview
    ever sees an unknown digest: `up` waits for the build, so what is applied
    is always the digest. The result keeps `ref`'s dependency on the build.
    """
    if stand_in is None:
        return pulumi.Output.from_input(ref)
    return pulumi.Output.from_input(ref).apply(
        lambda value: stand_in if isinstance(value, Unknown) else value, run_with_unknowns=True
    )
