"""The container registry the image is pushed to: ECR on AWS, a plain address locally."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws


@dataclass
class RegistryArgs:
    target: str
    repository_name: str
    # aws
    immutable_tags: bool = False
    keep_tagged_images: int = 30
    untagged_expiry_days: int = 7
    # local
    local_address: Optional[str] = None
    local_username: Optional[str] = None
    local_password: Optional[pulumi.Input[str]] = None

    def required_local_address(self) -> str:
        """The local registry's host:port without a trailing slash; the local target has nowhere else to push."""
        if self.local_address is None:
            raise ValueError("RegistryArgs: target 'local' needs local_address, the registry's host:port (e.g. 127.0.0.1:5050)")
        return self.local_address.rstrip("/")


def lifecycle_policy(keep_tagged_images: int, untagged_expiry_days: int) -> str:
    """ECR rules: untagged layers go first, then all but the newest tagged images."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"expire untagged images after {untagged_expiry_days} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": untagged_expiry_days,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"keep the last {keep_tagged_images} tagged images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": keep_tagged_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        },
        sort_keys=True,
    )


class Registry(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    registry_host: pulumi.Output[str]
    registry_id: pulumi.Output[str]
    username: Optional[pulumi.Output[str]]
    password: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: RegistryArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("pulumi-gitops:registry:Registry", name, None, opts)
        if args.target == "aws":
            self._ecr(name, args)
        else:
            self._local(args)
        self.register_outputs(
            {
                "repository_url": self.repository_url,
                "registry_host": self.registry_host,
                "registry_id": self.registry_id,
            }
        )

    def _ecr(self, name: str, args: RegistryArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        repository = aws.ecr.Repository(
            f"{name}-repo",
            name=args.repository_name,
            image_tag_mutability="IMMUTABLE" if args.immutable_tags else "MUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS"}],
            force_delete=False,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=lifecycle_policy(args.keep_tagged_images, args.untagged_expiry_days),
            opts=child,
        )
        self.repository_url = repository.repository_url
        self.registry_id = repository.registry_id
        self.registry_host = repository.repository_url.apply(lambda url: url.split("/", 1)[0])
        # A short-lived token (12 h) fetched at every run, so it never goes stale in state.
        token = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=self))
        self.username = token.user_name
        self.password = pulumi.Output.secret(token.password)

    def _local(self, args: RegistryArgs) -> None:
        address = args.required_local_address()
        self.repository_url = pulumi.Output.from_input(f"{address}/{args.repository_name}")
        self.registry_host = pulumi.Output.from_input(address)
        self.registry_id = pulumi.Output.from_input(address)
        self.username = pulumi.Output.from_input(args.local_username) if args.local_username else None
        self.password = pulumi.Output.secret(args.local_password) if args.local_password is not None else None
