"""Real, throw-away Git repositories for the manifest_loader tests."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Iterator, Union

import pytest

from testsupport.git_repos import init_repo


class WorkTree:
    """A fresh repository; paths are relative to its root and commits go through the git CLI."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = init_repo(root)

    def write(self, relative: str, content: Union[str, bytes]) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content), encoding="utf-8")
        return path

    def symlink(self, relative: str, target: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)

    def stage(self, *paths: str) -> None:
        self.repo.git.add(*paths)

    def commit(self, message: str = "update manifests") -> str:
        self.repo.git.add("--all")
        self.repo.git.commit("-m", message)
        return self.repo.head.commit.hexsha

    @staticmethod
    def config_map(name: str, namespace: str = "", value: str = "x") -> str:
        """A valid ConfigMap document, in `namespace` when one is given."""
        namespace_line = f"  namespace: {namespace}\n" if namespace else ""
        return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{namespace_line}data:\n  key: {value}\n"


@pytest.fixture
def work_tree(tmp_path: Path) -> Iterator[WorkTree]:
    tree = WorkTree(tmp_path / "repo")
    yield tree
    tree.repo.close()
