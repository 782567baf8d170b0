"""Reads secrets from where the config says they live: an environment variable or a file, never the config itself."""

from __future__ import annotations

import base64
import os
import secrets as token_source
from pathlib import Path
from typing import Any

from .model import Secret

SOURCE_KEYS = ("env", "file")


def read_secret(spec: Any, base_dir: Path, allow_generate: bool = False) -> Secret:
    """spec is {env: NAME} or {file: PATH} (+ generate: true where allowed); raises ValueError naming what to do."""
    allowed = set(SOURCE_KEYS) | ({"generate"} if allow_generate else set())
    if not isinstance(spec, dict) or not spec.keys() & set(SOURCE_KEYS) or not set(spec) <= allowed:
        keys = " or ".join(f"{{{key}: ...}}" for key in SOURCE_KEYS)
        raise ValueError(f"must be {keys}; secrets are never written in the config itself")
    if len(spec.keys() & set(SOURCE_KEYS)) != 1:
        raise ValueError("give either env or file, not both")
    if "env" in spec:
        name = spec["env"]
        if not isinstance(name, str) or not name:
            raise ValueError("env must name an environment variable")
        value = os.environ.get(name)
        if not value:
            raise ValueError(f"the environment variable {name} is not set or empty; export it before starting")
        return Secret(value=value, origin=f"env {name}")
    if not isinstance(spec["file"], str) or not spec["file"]:
        raise ValueError("file must be a path")
    path = (base_dir / os.path.expanduser(spec["file"])).resolve()
    if spec.get("generate") is True and not path.exists():
        _generate(path)
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ValueError(f"cannot read {path} ({error.strerror})") from None
    if not value:
        raise ValueError(f"{path} is empty")
    return Secret(value=value, origin=f"file {path}", path=path)


def _generate(path: Path) -> None:
    # Same shape as scripts/pulumi-local.sh: 32 random bytes, base64, owner-only.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(base64.b64encode(token_source.token_bytes(32)).decode() + "\n")
