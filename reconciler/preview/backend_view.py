"""What a preview's CLI may read of a file (diy) backend: exactly what `pulumi preview` opens there.

Traced with strace (CLI 3.274, a 232-resource stack), `pulumi preview` on a
diy backend opens, read-only, `.pulumi/meta.yaml` and the stack's checkpoint
`.pulumi/stacks/<project>/<stack>.json`, each with its `.attrs`; it takes no
lock and writes no history or backup (those are an update's). The sandbox
covers every stack's backend folder and mounts back these files only, so a
preview reads neither another stack's state nor any stack's history, even
in a shared backend, and writes nothing there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import yaml

from reconciler.settings import StackSpec

# Pulumi's rule for project names; it also keeps a pull request's Pulumi.yaml from naming a path.
_PROJECT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def file_backend(spec: StackSpec) -> Optional[Path]:
    if not spec.backend_url.startswith("file://"):
        return None
    return Path(spec.backend_url[len("file://"):].split("?", 1)[0])


def has_state(spec: StackSpec) -> bool:
    """False for a file backend nothing was written to yet (the CLI would create it, and the sandbox is read-only)."""
    backend = file_backend(spec)
    return backend is None or (backend / ".pulumi").is_dir()


def files_a_preview_reads(backend: Path, project_path: Path, stack: str) -> list[Path]:
    """The backend's metadata and the stack's checkpoint (with their `.attrs`), those that exist."""
    meta = backend / ".pulumi" / "meta.yaml"
    stacks = backend / ".pulumi" / "stacks"
    name = stack.rsplit("/", 1)[-1]
    project = _project_name(project_path, stack)
    # Backends written before project folders (meta.yaml version 0) keep stacks at the top.
    folders = ([stacks / project] if project else []) + [stacks]
    checkpoints = [folder / f"{name}{suffix}" for folder in folders for suffix in (".json", ".json.gz")]
    candidates = [path for file in (meta, *checkpoints) for path in (file, file.with_name(file.name + ".attrs"))]
    return [path for path in candidates if path.is_file()]


def _project_name(project_path: Path, stack: str) -> Optional[str]:
    """The project a qualified stack name (`org/project/stack`) names, else the one in the checkout's Pulumi.yaml."""
    parts = stack.split("/")
    name: object
    if len(parts) == 3:
        name = parts[1]
    else:
        try:
            project = next(path for path in (project_path / "Pulumi.yaml", project_path / "Pulumi.yml") if path.is_file())
            name = (yaml.safe_load(project.read_text(encoding="utf-8")) or {}).get("name")
        except (StopIteration, OSError, yaml.YAMLError, AttributeError):
            return None
    if not isinstance(name, str) or not _PROJECT_NAME.fullmatch(name) or name in (".", ".."):
        return None
    return name
