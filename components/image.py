"""An image (the app's, the reconciler's): built with docker-build, tagged with its Git revision, pushed, pinned by digest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_docker_build as docker_build


@dataclass
class ImageArgs:
    context_dir: str
    repository_url: pulumi.Input[str]
    registry_host: pulumi.Input[str]
    tag: str
    build_args: dict[str, str] = field(default_factory=dict)
    platforms: list[str] = field(default_factory=lambda: ["linux/amd64"])
    registry_username: Optional[pulumi.Input[str]] = None
    registry_password: Optional[pulumi.Input[str]] = None
    builder: Optional[str] = None
    # The Dockerfile when it is not the context's own, relative to the project.
    dockerfile: Optional[str] = None
    # Named build contexts (`COPY --from=NAME`): folders the Dockerfile reads beside the main context.
    named_contexts: dict[str, str] = field(default_factory=dict)


class Image(pulumi.ComponentResource):
    tagged_ref: pulumi.Output[str]
    digest: pulumi.Output[str]
    ref: pulumi.Output[str]

    def __init__(self, name: str, args: ImageArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("pulumi-gitops:image:Image", name, None, opts)
        if args.tag == "latest" or not args.tag:
            raise ValueError(f"image {name}: a Git-derived tag is required, got {args.tag!r}")

        self.tagged_ref = pulumi.Output.concat(args.repository_url, ":", args.tag)
        registries = None
        if args.registry_username is not None and args.registry_password is not None:
            registries = [
                docker_build.RegistryArgs(
                    address=args.registry_host,
                    username=args.registry_username,
                    password=args.registry_password,
                )
            ]
        image = docker_build.Image(
            f"{name}-build",
            context=docker_build.BuildContextArgs(
                location=args.context_dir,
                named={key: docker_build.ContextArgs(location=path) for key, path in args.named_contexts.items()} or None,
            ),
            dockerfile=docker_build.DockerfileArgs(location=args.dockerfile) if args.dockerfile else None,
            tags=[self.tagged_ref],
            build_args=args.build_args,
            platforms=[docker_build.Platform(p) for p in args.platforms],
            push=True,
            registries=registries,
            builder=docker_build.BuilderConfigArgs(name=args.builder) if args.builder else None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.digest = image.digest
        # Workloads use the digest, so every rebuild rolls out and a moved tag never does.
        self.ref = pulumi.Output.concat(args.repository_url, "@", image.digest)
        self.register_outputs({"tagged_ref": self.tagged_ref, "digest": self.digest, "ref": self.ref})
