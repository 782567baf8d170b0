"""load_manifests: the validated Kubernetes objects that the HEAD commit holds under a folder."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from typing import Collection, Optional, Union

from .crd_schemas import crd_validators
from .errors import ManifestError, ManifestProblem, dotted_path, object_problem
from .file_history import last_changing_commits
from .git_source import blob_path, find_manifest_folder, open_repository, tracked_yaml_files, uncommitted_changes
from .kubernetes_schemas import DEFAULT_KUBERNETES_VERSION, schemas_for
from .model import LoadedManifests, ManifestObject
from .objects import duplicate_problems, to_objects
from .placeholders import secret_placeholders
from .schema_check import schema_problems
from .source_lines import SourceLocator
from .yaml_documents import parse_documents

_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def load_manifests(
    repo_dir: Union[str, os.PathLike],
    manifests_dir: Union[str, os.PathLike],
    default_namespace: str = "default",
    require_clean: bool = False,
    max_file_bytes: int = 1_048_576,
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
    secret_names: Collection[str] = (),
    files: Optional[Collection[str]] = None,
) -> LoadedManifests:
    """Read every tracked .yaml/.yml file under manifests_dir as committed at HEAD, and validate it.

    Every object is checked against Kubernetes' rules for names, labels and
    annotations, and against the schema of its kind in kubernetes_version (or
    its CRD in the same commit); a `${secret:NAME}` must name one of
    secret_names. files, when given, are the only ones read (paths relative
    to manifests_dir, a unit's: manifest_loader/units.py); a custom resource
    whose CRD is in a file not read is then not checked offline. The work
    tree's edits are never deployed: `dirty` only says they exist, and
    require_clean=True refuses them. Raises one ManifestError
    listing every problem; nothing is returned unless all files are valid.
    """
    schemas = schemas_for(kubernetes_version)
    if not isinstance(default_namespace, str) or not _NAMESPACE.fullmatch(default_namespace):
        raise ValueError(f"default_namespace {default_namespace!r} is not a valid namespace name")
    with open_repository(repo_dir) as repo:
        folder = find_manifest_folder(repo, repo_dir, manifests_dir)
        changes = uncommitted_changes(folder)
        blobs, problems = tracked_yaml_files(folder)
        if files is not None:
            wanted = {f"{folder.path}/{file}" if folder.path else file for file in files}
            blobs = [blob for blob in blobs if blob_path(blob) in wanted]
            problems = [problem for problem in problems if problem.path in wanted]
        file_commits = last_changing_commits(repo, folder.commit, [blob_path(blob) for blob in blobs])
        if require_clean:
            problems += [
                ManifestProblem(
                    f"uncommitted change ({state})",
                    "Commit or stash it, or ignore it in .gitignore: require_clean deploys only a clean tree.",
                    path=path,
                )
                for path, state in changes
            ]
        objects: list[ManifestObject] = []
        sources: dict[str, SourceLocator] = {}  # files with documents, to find a problem's line
        for blob in blobs:
            file_path = blob_path(blob)
            if blob.size > max_file_bytes:
                problems.append(
                    ManifestProblem(
                        f"the file is {blob.size} bytes, over the limit of {max_file_bytes}",
                        "Split it into smaller files or raise max_file_bytes.",
                        path=file_path,
                    )
                )
                continue
            raw = blob.data_stream.read()
            documents, file_problems = parse_documents(file_path, raw)
            problems += file_problems
            if documents:
                sources[file_path] = SourceLocator(raw.decode("utf-8"))
            for document in documents:
                if document.data is None:
                    continue
                found, object_problems = to_objects(file_path, document, default_namespace, file_commits[file_path])
                problems += object_problems
                objects += found
        problems += duplicate_problems(objects)
        problems += _secret_name_problems(objects, secret_names)
        custom = crd_validators(objects)
        for obj in objects:
            problems += schema_problems(obj, schemas, custom, sources[obj.path])
    if problems:
        problems = [_located(problem, sources) for problem in problems]
        problems.sort(key=lambda problem: (problem.path or "", problem.doc_index or 0))
        raise ManifestError(problems)
    return LoadedManifests(
        commit=folder.commit,
        dirty=bool(changes),
        objects=objects,
        dirty_paths=[f"{path} ({state})" for path, state in changes],
    )


def _secret_name_problems(objects: list[ManifestObject], secret_names: Collection[str]) -> list[ManifestProblem]:
    problems = []
    for obj in objects:
        for location, name in secret_placeholders(obj.body):
            if name not in secret_names:
                problems.append(
                    object_problem(
                        obj,
                        f"{dotted_path(location)} asks for the secret {name!r}, which the stack's config does not hold",
                        f"Set it with `pulumi config set --secret --path 'pulumi-gitops:secrets.{name}' VALUE`"
                        f" or fix the name (known: {', '.join(sorted(secret_names)) or 'none'}).",
                        location,
                    )
                )
    return problems


def _located(problem: ManifestProblem, sources: dict[str, SourceLocator]) -> ManifestProblem:
    """The problem with the line of its field, when it names one in a file that parsed."""
    source = sources.get(problem.path or "")
    if not problem.field_path or source is None or problem.doc_index is None:
        return problem
    line = source.line(problem.doc_index, problem.field_path)
    return problem if line is None else replace(problem, line=line)
