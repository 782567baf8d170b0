"""The whole deployment as one function, run by `pulumi up` and by the Automation API alike."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_docker_build as docker_build

from components.cluster import Cluster
from components.image import Image, ImageArgs
from components.parent_stack import ParentStack, ParentStackArgs
from components.registry import Registry
from components.workloads import Workloads, WorkloadsArgs
from manifest_loader import LoadedManifests, ManifestError, load_manifests, render_objects
from manifest_loader.kube_client import KubeClient
from manifest_loader.review_namespace import into_review_namespace
from manifest_loader.server_dry_run import server_dry_run
from manifest_loader.unit_plan_file import handed_unit
from manifest_loader.units import Unit, UnitSettings, plan_units
from source_revision import FolderRevision, folder_revision, paths_revision
from stack_settings import ReconcilerSettings, StackSettings, UnitStack, read_stack_settings

# The name manifests use in their image placeholder: `image: ${image:app}`.
APP_IMAGE = "app"
RECONCILER_IMAGE = "reconciler"
PROJECT_DIR = Path(__file__).resolve().parent
RECONCILER_DOCKERFILE = PROJECT_DIR / "deploy" / "reconciler" / "Dockerfile"
# Everything the reconciler's image is built from: a commit that touches none of these keeps its tag
# (no rebuild, no restart of the reconciler by its own run).
RECONCILER_SOURCES = [
    "reconciler", "manifest_loader", "deploy/reconciler/Dockerfile", "deploy/reconciler/Dockerfile.dockerignore",
    "deploy/reconciler/requirements.txt", "deploy/reconciler/start_replica.py", "requirements.txt", "tools/versions.env",
]


def gitops_program() -> None:
    # The ConfigGroup answers with a reference to every object it applied, and the SDK
    # looks each one up again (5 s at 1,000 objects); nothing here reads them.
    os.environ.setdefault("PULUMI_DISABLE_RESOURCE_REFERENCES", "true")
    settings = read_stack_settings()
    if settings.unit is not None:
        _unit_stack(settings, settings.unit)
    elif settings.units is not None and not settings.review_namespace:
        _parent_of_units(settings, settings.units)
    else:
        if settings.units is not None:
            pulumi.log.info("A review stack deploys every unit's manifests itself, in its own namespace.")
        _whole_stack(settings)


def _whole_stack(settings: StackSettings) -> None:
    """The one stack that holds everything: registry, image, cluster and every manifest."""
    # Everything that can be wrong in Git is checked before the first resource (names, schemas of the
    # cluster's release, secret names), so a bad commit fails the run with nothing applied.
    manifests = _load(settings)
    if settings.review_namespace:
        review = into_review_namespace(manifests, settings.review_namespace)
        manifests = review.loaded
        pulumi.export("reviewLeftOut", review.left_out)
    app_revision = folder_revision(settings.app_dir)
    _dry_run_if_local(settings, manifests, app_revision)
    infrastructure = _infrastructure(settings, app_revision)
    workloads = Workloads(
        "workloads",
        WorkloadsArgs(
            objects=manifests.objects,
            images={APP_IMAGE: infrastructure.image.ref},
            preview_images={APP_IMAGE: infrastructure.image.tagged_ref},
            secrets=settings.secrets,
            awaits=settings.awaits,
        ),
        opts=pulumi.ResourceOptions(providers={"kubernetes": infrastructure.cluster.provider}),
    )
    pulumi.export("commit", manifests.commit)
    pulumi.export("manifestsDirty", manifests.dirty)
    pulumi.export("objects", workloads.object_ids)


def _parent_of_units(settings: StackSettings, units: UnitSettings) -> None:
    """A stack whose workloads are split into unit stacks: registry, image and cluster, and what units read."""
    plan = plan_units(settings.manifests_dir, units, default_namespace=settings.default_namespace)
    _infrastructure(settings, folder_revision(settings.app_dir))
    pulumi.export("commit", plan.commit)
    pulumi.export("units", plan.as_data())


def _unit_stack(settings: StackSettings, unit_stack: UnitStack) -> None:
    """One unit's manifests, on the cluster and with the image of the parent stack."""
    unit = _unit_of(settings, unit_stack)
    manifests = _load(settings, files=unit.files)
    _dry_run_if_local(settings, manifests, folder_revision(settings.app_dir))
    parent = ParentStack(
        "parent",
        ParentStackArgs(
            stack_name=unit_stack.parent_stack,
            kube_context=settings.cluster.local_context if settings.target == "local" else None,
        ),
    )
    workloads = Workloads(
        "workloads",
        WorkloadsArgs(
            objects=manifests.objects, images={APP_IMAGE: parent.image_ref}, secrets=settings.secrets,
            awaits=settings.awaits,
        ),
        opts=pulumi.ResourceOptions(providers={"kubernetes": parent.provider}),
    )
    pulumi.export("unit", unit.name)
    pulumi.export("dependsOn", list(unit.depends_on))
    pulumi.export("commit", manifests.commit)
    pulumi.export("manifestsDirty", manifests.dirty)
    pulumi.export("objects", workloads.object_ids)


def _unit_of(settings: StackSettings, unit_stack: UnitStack) -> Unit:
    """The unit's files and dependencies: from the reconciler's plan when it handed one for this commit, else
    planned here over every manifest (a run by hand)."""
    handed, why_not = handed_unit(settings.manifests_dir, pulumi.get_stack(), unit_stack.name)
    if handed is not None:
        return handed
    pulumi.log.debug(f"planning the units here: {why_not}")
    assert settings.units is not None, "read_stack_settings refuses a unit without units"
    plan = plan_units(settings.manifests_dir, settings.units, default_namespace=settings.default_namespace)
    return plan.get(unit_stack.name)


@dataclass(frozen=True)
class _Infrastructure:
    image: Image
    cluster: Cluster


def _infrastructure(settings: StackSettings, app_revision: FolderRevision) -> _Infrastructure:
    """The registry, the app's image, the cluster and the reconciler when it runs there; exports them."""
    protected = pulumi.ResourceOptions(protect=settings.protect)
    registry = Registry("registry", settings.registry, opts=protected)

    image_opts = None
    if settings.docker_host:
        image_opts = pulumi.ResourceOptions(
            providers={"docker-build": docker_build.Provider("docker", host=settings.docker_host)}
        )
    image = Image(
        APP_IMAGE,
        ImageArgs(
            context_dir=_relative_to_project(settings.app_dir),
            repository_url=registry.repository_url,
            registry_host=registry.registry_host,
            tag=app_revision.tag,
            build_args=settings.image_build_args,
            platforms=settings.image_platforms,
            registry_username=registry.username,
            registry_password=registry.password,
            builder=settings.image_builder,
        ),
        opts=image_opts,
    )

    cluster = Cluster("cluster", settings.cluster, opts=protected)

    if settings.reconciler is not None:
        reconciler_ref = _reconciler(settings, settings.reconciler, image_opts, protected, cluster)
        pulumi.export("reconcilerImageRef", reconciler_ref)

    pulumi.export("target", settings.target)
    pulumi.export("registryUrl", registry.repository_url)
    pulumi.export("imageRef", image.ref)
    pulumi.export("imageTag", app_revision.tag)
    pulumi.export("clusterName", cluster.name)
    pulumi.export("clusterEndpoint", cluster.endpoint)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    return _Infrastructure(image, cluster)


def _reconciler(
    settings: StackSettings,
    reconciler: ReconcilerSettings,
    image_opts: pulumi.ResourceOptions | None,
    protected: pulumi.ResourceOptions,
    cluster: Cluster,
) -> pulumi.Output[str]:
    """The reconciler's image and its own manifests, like `flux bootstrap`: the reconciler that keeps the
    cluster at Git runs in it, deployed by this program from Git. Returns the image's reference."""
    manifests = load_manifests(
        reconciler.manifests_dir,
        reconciler.manifests_dir,
        require_clean=settings.require_clean_manifests,
        kubernetes_version=settings.kubernetes_version,
    )
    revision = paths_revision(PROJECT_DIR, [PROJECT_DIR / path for path in RECONCILER_SOURCES])
    registry = Registry(
        "reconciler-registry",
        dataclasses.replace(settings.registry, repository_name=f"{settings.app_name}-reconciler"),
        opts=protected,
    )
    image = Image(
        RECONCILER_IMAGE,
        ImageArgs(
            context_dir=_relative_to_project(PROJECT_DIR),
            dockerfile=_relative_to_project(RECONCILER_DOCKERFILE),
            named_contexts={name: str(reconciler.build_inputs / name) for name in ("tools", "wheels")},
            repository_url=registry.repository_url,
            registry_host=registry.registry_host,
            tag=revision.tag,
            build_args={"RECONCILER_BASE_IMAGE": reconciler.base_image} if reconciler.base_image else {},
            platforms=settings.image_platforms,
            registry_username=registry.username,
            registry_password=registry.password,
            builder=settings.image_builder,
        ),
        opts=image_opts,
    )
    Workloads(
        "reconciler",
        WorkloadsArgs(
            objects=manifests.objects,
            images={RECONCILER_IMAGE: image.ref},
            preview_images={RECONCILER_IMAGE: image.tagged_ref},
            awaits=settings.awaits,
        ),
        opts=pulumi.ResourceOptions(providers={"kubernetes": cluster.provider}),
    )
    return image.ref


def _load(settings: StackSettings, files: Optional[tuple[str, ...]] = None) -> LoadedManifests:
    return load_manifests(
        settings.manifests_dir,
        settings.manifests_dir,
        default_namespace=settings.default_namespace,
        require_clean=settings.require_clean_manifests,
        kubernetes_version=settings.kubernetes_version,
        secret_names=settings.secrets.keys(),
        files=files,
    )


def _dry_run_if_local(settings: StackSettings, manifests: LoadedManifests, app_revision: FolderRevision) -> None:
    if settings.target == "local" and settings.server_dry_run:
        # The image's digest is known only after the build; the dry-run uses its tag, a valid reference.
        stand_in = f"{settings.registry.required_local_address()}/{settings.app_name}:{app_revision.tag}"
        _dry_run_on_cluster(settings, manifests, stand_in)


def _dry_run_on_cluster(settings: StackSettings, manifests: LoadedManifests, image: str) -> None:
    """The API server's server-side dry-run of every object, before the first resource is registered.

    The reconciler's `up` skips the preview (where the provider would dry-run
    each object), so this is what stops a commit that the cluster's policies,
    quotas or immutable fields refuse before any object of it is applied. On
    aws the kubeconfig is an output of the cluster, not known this early.
    """
    client = KubeClient(settings.cluster.required_local_kubeconfig(), settings.cluster.local_context)
    # Empty stand-ins for secrets: no secret value goes over the wire for a dry-run.
    rendered = render_objects(manifests.objects, {APP_IMAGE: image}, {name: "" for name in settings.secrets})
    result = server_dry_run(client, manifests.objects, rendered)
    if not result.reachable:
        pulumi.log.info("The cluster does not answer: the manifests were checked offline only (schemas, names).")
        return
    for skipped in result.skipped:
        pulumi.log.info(f"Not dry-run, checked offline only: {skipped}")
    for replaced in result.replaced:
        pulumi.log.info(f"Immutable fields changed, the object will be replaced: {replaced}")
    if result.problems:
        raise ManifestError(result.problems)


def _relative_to_project(path: os.PathLike) -> str:
    """Relative to the project folder when inside it: the state then holds the same build context from every
    checkout (the reconciler's, a preview's, a laptop's) and a move of the checkout is no image change."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative
