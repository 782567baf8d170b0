import pulumi
import pytest

from components.image import Image, ImageArgs
from testsupport.pulumi_mocks import FAKE_DIGEST, is_secret_input, reveal, run_program

REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo"


def image_program(seen: dict, **overrides):
    args = dict(
        context_dir="/src/app",
        repository_url=pulumi.Output.from_input(REPO),
        registry_host=REPO.split("/")[0],
        tag="0123456789ab",
        build_args={"BASE_IMAGE": "127.0.0.1:5050/base/python:3.11"},
        registry_username="AWS",
        registry_password=pulumi.Output.secret("token"),
    )
    args.update(overrides)

    def program():
        image = Image("app", ImageArgs(**args))
        return pulumi.Output.all(image.ref, image.tagged_ref).apply(
            lambda values: seen.update(ref=values[0], tagged=values[1])
        )

    return program


def test_image_is_built_from_the_context_tagged_with_the_revision_and_pushed():
    mocks = run_program(image_program({}), "dev", {}).mocks
    build = mocks.one("docker-build:index:Image")

    assert build.inputs["context"] == {"location": "/src/app"}
    assert build.inputs["tags"] == [f"{REPO}:0123456789ab"]
    assert build.inputs["push"] is True
    assert build.inputs["buildArgs"] == {"BASE_IMAGE": "127.0.0.1:5050/base/python:3.11"}
    assert build.inputs["platforms"] == ["linux/amd64"]
    # The registry password makes the whole list secret, so it never lands in state in clear.
    assert is_secret_input(build.inputs["registries"])
    assert reveal(build.inputs["registries"]) == [
        {"address": "123456789012.dkr.ecr.us-east-1.amazonaws.com", "username": "AWS", "password": "token"}
    ]


def test_workloads_get_a_digest_pinned_reference_derived_from_the_registry_url():
    seen = {}
    run_program(image_program(seen), "dev", {})

    assert seen["ref"] == f"{REPO}@{FAKE_DIGEST}"
    assert seen["tagged"] == f"{REPO}:0123456789ab"
    assert ":latest" not in seen["ref"]


def test_a_named_builder_is_passed_to_docker_build_and_none_lets_it_choose():
    named = run_program(image_program({}, builder="gitops-local"), "local", {}).mocks.one("docker-build:index:Image")
    default = run_program(image_program({}), "local", {}).mocks.one("docker-build:index:Image")

    assert named.inputs["builder"] == {"name": "gitops-local"}
    assert "builder" not in default.inputs


def test_no_credentials_means_no_registry_login():
    mocks = run_program(image_program({}, registry_username=None, registry_password=None), "local", {}).mocks
    assert "registries" not in mocks.one("docker-build:index:Image").inputs


@pytest.mark.parametrize("tag", ["latest", ""])
def test_a_floating_tag_is_refused(tag):
    with pytest.raises(ValueError, match="Git-derived tag"):
        run_program(image_program({}, tag=tag), "dev", {})
