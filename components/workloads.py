"""The Git-tracked Kubernetes manifests, applied as one ConfigGroup through the cluster's provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from manifest_loader import ManifestObject, render_objects


@dataclass
class WorkloadsArgs:
    objects: list[ManifestObject]
    images: dict[str, pulumi.Input[str]] = field(default_factory=dict)


def object_id(obj: ManifestObject) -> str:
    group, kind, namespace, name = obj.key
    return "/".join(part for part in (group or "core", kind, namespace, name) if part)


class Workloads(pulumi.ComponentResource):
    object_ids: list[str]

    def __init__(self, name: str, args: WorkloadsArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("pulumi-gitops:workloads:Workloads", name, None, opts)
        self.object_ids = [object_id(obj) for obj in args.objects]

        image_names = sorted(args.images)
        refs = pulumi.Output.all(*[args.images[n] for n in image_names])
        rendered = refs.apply(
            lambda values: render_objects(args.objects, images=dict(zip(image_names, values)))
        )
        k8s.yaml.v2.ConfigGroup(f"{name}-manifests", objs=rendered, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"object_ids": self.object_ids})
