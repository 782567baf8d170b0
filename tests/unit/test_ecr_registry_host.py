"""The registry host Docker logs in to is the ECR URL's host, whatever the repository's name (ECR repository
names may hold slashes: https://docs.aws.amazon.com/AmazonECR/latest/userguide/Repositories.html)."""

from __future__ import annotations

import pulumi

from components.registry import Registry, RegistryArgs
from testsupport.pulumi_mocks import run_program


def test_a_namespaced_repository_is_pushed_to_the_host_before_its_first_slash():
    seen = {}

    def program():
        registry = Registry("registry", RegistryArgs(target="aws", repository_name="team/web"))
        return pulumi.Output.all(registry.repository_url, registry.registry_host).apply(
            lambda values: seen.update(url=values[0], host=values[1]))

    run_program(program, "dev", {})

    assert seen == {"url": "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/web",
                    "host": "123456789012.dkr.ecr.us-east-1.amazonaws.com"}
