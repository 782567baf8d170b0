import json

import pulumi

from components.registry import Registry, RegistryArgs
from testsupport.pulumi_mocks import ECR_TOKEN_PASSWORD, run_program


def ecr_registry(**overrides):
    args = dict(target="aws", repository_name="demo", keep_tagged_images=25, untagged_expiry_days=3)
    args.update(overrides)
    return lambda: Registry("registry", RegistryArgs(**args))


def test_ecr_repository_scans_on_push_encrypts_and_follows_tag_mutability():
    mutable = run_program(ecr_registry(immutable_tags=False), "dev", {}).mocks.one("aws:ecr/repository:Repository")
    immutable = run_program(ecr_registry(immutable_tags=True), "prod", {}).mocks.one("aws:ecr/repository:Repository")

    assert mutable.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert mutable.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
    assert mutable.inputs["imageTagMutability"] == "MUTABLE"
    assert immutable.inputs["imageTagMutability"] == "IMMUTABLE"
    assert mutable.inputs["name"] == "demo"


def test_ecr_lifecycle_keeps_last_tagged_images_and_expires_untagged():
    mocks = run_program(ecr_registry(), "dev", {}).mocks
    policy = json.loads(mocks.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"])
    rules = {rule["selection"]["tagStatus"]: rule for rule in policy["rules"]}

    assert rules["untagged"]["selection"]["countType"] == "sinceImagePushed"
    assert rules["untagged"]["selection"]["countNumber"] == 3
    assert rules["any"]["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 25}
    # ECR evaluates the untagged rule first, so untagged layers never count toward the kept images.
    assert rules["untagged"]["rulePriority"] < rules["any"]["rulePriority"]


def test_ecr_outputs_url_host_and_a_secret_token():
    seen = {}

    def program():
        registry = Registry("registry", RegistryArgs(target="aws", repository_name="demo"))
        return pulumi.Output.all(
            registry.repository_url,
            registry.registry_host,
            registry.username,
            registry.password,
            pulumi.Output.from_input(registry.password.is_secret()),
        ).apply(lambda values: seen.update(zip(["url", "host", "user", "password", "secret"], values)))

    run = run_program(program, "dev", {})

    assert seen["url"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo"
    assert seen["host"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert (seen["user"], seen["password"], seen["secret"]) == ("AWS", ECR_TOKEN_PASSWORD, True)
    assert [token for token, _ in run.mocks.calls] == ["aws:ecr/getAuthorizationToken:getAuthorizationToken"]


def test_local_registry_is_an_address_with_no_aws_resources():
    seen = {}

    def program():
        registry = Registry(
            "registry", RegistryArgs(target="local", repository_name="demo", local_address="127.0.0.1:5050/")
        )
        return pulumi.Output.all(registry.repository_url, registry.registry_host).apply(
            lambda values: seen.update(url=values[0], host=values[1], user=registry.username)
        )

    mocks = run_program(program, "local", {}).mocks

    assert seen == {"url": "127.0.0.1:5050/demo", "host": "127.0.0.1:5050", "user": None}
    assert [r.typ for r in mocks.registered] == ["pulumi-gitops:registry:Registry"]
    assert mocks.calls == []
