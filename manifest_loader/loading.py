"""load_manifests: the validated Kubernetes objects that the HEAD commit holds under a folder."""

from __future__ import annotations

import os
import re
from typing import Union

from .errors import ManifestError, ManifestProblem
from .file_history import last_changing_commits
from .git_source import find_manifest_folder, open_repository, tracked_yaml_files, uncommitted_changes
from .model import LoadedManifests, ManifestObject
from .objects import duplicate_problems, to_object
from .yaml_documents import parse_documents

_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def load_manifests(
    repo_dir: Union[str, os.PathLike],
    manifests_dir: Union[str, os.PathLike],
    default_namespace: str = "default",
    require_clean: bool = False,
    max_file_bytes: int = 1_048_576,
) -> LoadedManifests:
    """Read every tracked .yaml/.yml file under manifests_dir as committed at HEAD, and validate it.

    The work tree's edits are never deployed: `dirty` only says they exist, and
    require_clean=True refuses them. Raises one ManifestError listing every
    problem; nothing is returned unless all files are valid.
    """
    if not isinstance(default_namespace, str) or not _NAMESPACE.fullmatch(default_namespace):
        raise ValueError(f"default_namespace {default_namespace!r} is not a valid namespace name")
    with open_repository(repo_dir) as repo:
        folder = find_manifest_folder(repo, repo_dir, manifests_dir)
        changes = uncommitted_changes(folder)
        blobs, problems = tracked_yaml_files(folder)
        file_commits = last_changing_commits(repo, folder.commit, [blob.path for blob in blobs])
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
        for blob in blobs:
            if blob.size > max_file_bytes:
                problems.append(
                    ManifestProblem(
                        f"the file is {blob.size} bytes, over the limit of {max_file_bytes}",
                        "Split it into smaller files or raise max_file_bytes.",
                        path=blob.path,
                    )
                )
                continue
            documents, file_problems = parse_documents(blob.path, blob.data_stream.read())
            problems += file_problems
            for document in documents:
                if document.data is None:
                    continue
                obj, object_problems = to_object(blob.path, document, default_namespace, file_commits[blob.path])
                problems += object_problems
                if obj is not None:
                    objects.append(obj)
        problems += duplicate_problems(objects)
    if problems:
        problems.sort(key=lambda problem: (problem.path or "", problem.doc_index or 0))
        raise ManifestError(problems)
    return LoadedManifests(
        commit=folder.commit,
        dirty=bool(changes),
        objects=objects,
        dirty_paths=[f"{path} ({state})" for path, state in changes],
    )
