import pytest
import yaml

from stack_settings import StackConfigError, read_stack_settings
from testsupport.pulumi_mocks import PROJECT_DIR, run_program, stack_config


def settings_for(stack, overrides=None, drop=()):
    config = stack_config(stack, overrides)
    for key in drop:
        config.pop(key)
    seen = {}
    run_program(lambda: seen.update(settings=read_stack_settings()), stack, config)
    return seen["settings"]


def test_prod_is_stricter_than_dev():
    dev, prod = settings_for("dev"), settings_for("prod")

    assert (dev.protect, prod.protect) == (False, True)
    assert (dev.require_clean_manifests, prod.require_clean_manifests) == (False, True)
    assert (dev.registry.immutable_tags, prod.registry.immutable_tags) == (False, True)
    assert (dev.cluster.endpoint_public_access, prod.cluster.endpoint_public_access) == (True, False)
    assert prod.cluster.node_min_size > dev.cluster.node_min_size
    assert len(prod.cluster.availability_zones) >= 2 and prod.cluster.single_nat_gateway is False


def test_local_reads_the_kubeconfig_and_its_context(kubeconfig_file):
    settings = settings_for("local", {"pulumi-gitops:kubeconfig": str(kubeconfig_file)})

    assert settings.target == "local"
    assert settings.registry.local_address == "127.0.0.1:5050"
    assert settings.cluster.local_server == "https://127.0.0.1:16443"
    assert settings.cluster.local_kubeconfig == kubeconfig_file.read_text()
    assert settings.image_build_args == {"BASE_IMAGE": "127.0.0.1:5050/base/python:3.11"}


@pytest.mark.parametrize(
    "stack, overrides, drop, message",
    [
        ("dev", {"pulumi-gitops:target": "gcp"}, (), r"Pulumi.dev.yaml: pulumi-gitops:target: must be one of aws, local"),
        ("dev", {}, ("pulumi-gitops:target",), r"Pulumi.dev.yaml: pulumi-gitops:target: is required"),
        ("dev", {"pulumi-gitops:availabilityZones": ["us-east-1a"]}, (), r"availabilityZones: needs at least two"),
        ("dev", {"pulumi-gitops:nodeMinSize": 5}, (), r"nodeDesiredSize: needs nodeMinSize <= nodeDesiredSize"),
        ("dev", {"pulumi-gitops:nodeMaxSize": "many"}, (), r"nodeMaxSize: must be a whole number"),
        ("dev", {"pulumi-gitops:vpcCidr": "10.0.0.0/33"}, (), r"vpcCidr: '10.0.0.0/33' is not a CIDR"),
        ("prod", {"pulumi-gitops:protect": "yes please"}, (), r"Pulumi.prod.yaml: pulumi-gitops:protect: must be true or false"),
        ("dev", {}, ("aws:region",), r"aws:region is not set"),
        ("dev", {"pulumi-gitops:imageBuildArgs": ["x"]}, (), r"imageBuildArgs: must be a map of strings"),
        ("dev", {"pulumi-gitops:endpointPublicAccess": False, "pulumi-gitops:endpointPrivateAccess": False}, (), r"nothing could reach"),
        ("local", {"pulumi-gitops:kubeconfig": "/nonexistent/kubeconfig"}, (), r"Pulumi.local.yaml: pulumi-gitops:kubeconfig: cannot read /nonexistent/kubeconfig.*make cluster-up"),
        ("local", {}, ("pulumi-gitops:registryAddress",), r"registryAddress: is required for the local target"),
        # Defaults live in Pulumi.yaml alone: a program run without them (no engine) says so instead of guessing.
        ("dev", {}, ("pulumi-gitops:protect",), r"Pulumi.dev.yaml: pulumi-gitops:protect: has no value; Pulumi.yaml declares its default"),
        ("dev", {}, ("pulumi-gitops:nodeMinSize",), r"nodeMinSize: has no value; Pulumi.yaml declares its default"),
        ("dev", {"pulumi-gitops:appName": ""}, (), r"appName: is empty; give it a value, or remove it from the stack file"),
        ("dev", {"pulumi-gitops:awaits": "rollout"}, (), r"Pulumi.dev.yaml: pulumi-gitops:awaits: must be one of kstatus, provider, none, got 'rollout'"),
        ("dev", {"pulumi-gitops:reviewNamespace": "Web_PR"}, (), r"Pulumi.dev.yaml: pulumi-gitops:reviewNamespace: 'Web_PR' is not a DNS-1123 label"),
    ],
)
def test_bad_config_names_the_stack_file_and_the_key(stack, overrides, drop, message):
    with pytest.raises(StackConfigError, match=message):
        settings_for(stack, overrides, drop)


def test_the_defaults_are_pulumi_yamls():
    """A stack file that sets nothing optional gets exactly what Pulumi.yaml declares, as the engine passes it."""
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    defaults = {key: spec["default"] for key, spec in declared.items() if isinstance(spec, dict) and "default" in spec}
    set_by_dev = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    required = ("pulumi-gitops:target", "aws:region", "pulumi-gitops:availabilityZones")
    settings = settings_for(
        "dev", overrides={key: defaults[key] for key in set_by_dev if key in defaults and key not in required},
        drop=[key for key in set_by_dev if key not in required and key not in defaults],
    )

    assert (settings.app_name, settings.default_namespace, settings.protect, settings.require_clean_manifests) == ("demo", "demo", False, False)
    assert settings.image_platforms == ["linux/amd64"] and settings.server_dry_run is True and settings.kubernetes_version == "1.33"
    assert settings.awaits == "kstatus"  # what a Flux user expects: a rollout is waited for, a Service is not
    assert (settings.cluster.node_min_size, settings.cluster.node_desired_size, settings.cluster.node_max_size) == (1, 2, 3)
    assert settings.cluster.public_access_cidrs == ["0.0.0.0/0"] and settings.cluster.node_instance_types == ["t3.medium"]
    assert (settings.registry.keep_tagged_images, settings.registry.untagged_expiry_days) == (30, 7)
    assert settings.reconciler is None  # the reconciler in the cluster is opt-in
    assert (settings.units, settings.unit) == (None, None)  # one stack deploys everything unless units are declared


def test_the_reconciler_image_needs_its_gathered_build_inputs(kubeconfig_file, tmp_path):
    overrides = {"pulumi-gitops:kubeconfig": str(kubeconfig_file), "pulumi-gitops:reconcilerImage": "true",
                 "pulumi-gitops:reconcilerBuildInputs": str(tmp_path)}
    (tmp_path / "tools").mkdir()

    with pytest.raises(StackConfigError, match=rf"Pulumi.local.yaml: pulumi-gitops:reconcilerBuildInputs: {tmp_path} has no wheels folder; `python -m localenv up`"):
        settings_for("local", overrides)
    (tmp_path / "wheels").mkdir()
    settings = settings_for("local", overrides)
    assert settings.reconciler.build_inputs == tmp_path
    # Its base comes from the local registry too (nothing can be pulled here), and only its build gets it.
    assert settings.reconciler.base_image == "127.0.0.1:5050/base/python-git:3.11"
    assert settings.reconciler.manifests_dir == PROJECT_DIR / "deploy" / "reconciler"


def test_unknown_kube_context_lists_the_ones_there(kubeconfig_file):
    overrides = {"pulumi-gitops:kubeconfig": str(kubeconfig_file), "pulumi-gitops:kubeContext": "prod-cluster"}
    with pytest.raises(StackConfigError, match=r"kubeContext: .* has no context 'prod-cluster'; it has \['gitops-local'\]"):
        settings_for("local", overrides)
