"""One entry of `stacks:` in the reconciler config, validated into a StackSpec."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Union

from .git_names import GitNameError, check_branch, check_commit, repository_kind
from .model import ConfigOverride, GitCredentials, Secret, StackSpec
from .problems import Problems, duration, integer, secret

STACK_KEYS = (
    "name", "repo", "branch", "commit", "project_dir", "stack", "backend_url", "secrets_passphrase",
    "resync_interval", "drift_interval", "auto_remediate", "paths", "deletion_guard", "virtualenv",
    "config", "env", "operation_timeout", "program_retries", "lock_stale_after", "guard_manifests", "preview_env",
)
REPO_KEYS = ("url", "credentials")
CREDENTIAL_KEYS = ("username", "password", "ssh_key_file", "known_hosts_file")
OVERRIDE_FORMS = ("path", "secret_env", "secret_file", "value")
BACKEND_SCHEMES = ("file", "s3", "gs", "azblob", "https", "http")
# The stack that deletes nothing unless a commit says so, when the config does not say otherwise.
GUARDED_BY_DEFAULT = ("prod", "production")
_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_CONFIG_KEY = re.compile(r"^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def stack_entry(entry: Any, index: int, base: Path, problems: Problems) -> Optional[StackSpec]:
    if not isinstance(entry, dict):
        problems.add(f"stacks[{index}]", "must be a mapping")
        return None
    name = entry.get("name")
    where = f"stacks[{index}] ({name})" if isinstance(name, str) else f"stacks[{index}]"
    problems.unknown_keys(where, entry, STACK_KEYS)
    if not isinstance(name, str) or not _STACK_NAME.match(name):
        problems.add(where, f"name: {name!r} must be letters, digits, '.', '_' or '-' (it names a folder)")
        name = f"stack-{index}"
    at: Callable[[str], str] = lambda key: f"{where}: {key}"  # noqa: E731

    repo_url, credentials = _repo(entry.get("repo"), at, base, problems)
    branch, commit = _revision(entry, at, problems)
    pulumi_stack = entry.get("stack", name)
    if not isinstance(pulumi_stack, str) or not pulumi_stack or pulumi_stack.startswith("-"):
        problems.add(at("stack"), f"must be a Pulumi stack name, got {pulumi_stack!r}")
    project_dir = _project_dir(entry.get("project_dir", "."), at, problems)
    backend_url = _backend(entry.get("backend_url"), at, base, problems)
    passphrase = None
    if entry.get("secrets_passphrase") is not None:
        passphrase = secret(entry["secrets_passphrase"], at("secrets_passphrase"), base, problems, allow_generate=True)

    resync = duration(entry.get("resync_interval", "60s"), at("resync_interval"), problems) or 60.0
    drift = duration(entry.get("drift_interval", "15m"), at("drift_interval"), problems, allow_off=True)
    auto_remediate = entry.get("auto_remediate", False)
    if not isinstance(auto_remediate, bool):
        problems.add(at("auto_remediate"), f"must be true or false, got {auto_remediate!r}")
    guard_default = 0 if pulumi_stack in GUARDED_BY_DEFAULT else "off"
    timeout = duration(entry.get("operation_timeout", "60m"), at("operation_timeout"), problems) or 3600.0
    stale_after = duration(entry.get("lock_stale_after", "2h"), at("lock_stale_after"), problems) or 7200.0
    if stale_after <= timeout:
        problems.add(at("lock_stale_after"), "must be longer than operation_timeout (a live run's lock is never that old)")
    return StackSpec(
        name=name,
        repo_url=repo_url,
        repo_display=repo_url,
        credentials=credentials,
        branch=branch,
        commit=commit,
        project_dir=project_dir,
        stack=str(pulumi_stack),
        backend_url=backend_url,
        passphrase=passphrase,
        resync_interval=resync,
        drift_interval=drift,
        auto_remediate=auto_remediate is True,
        paths=_paths(entry.get("paths", []), at, problems),
        deletion_guard=_guard(entry.get("deletion_guard", guard_default), at, problems),
        virtualenv=_virtualenv(entry.get("virtualenv"), at, base, problems),
        config=_overrides(entry.get("config") or {}, at, base, problems),
        env=_env(entry.get("env") or {}, at, problems),
        operation_timeout=timeout,
        program_retries=integer(entry.get("program_retries", 3), at("program_retries"), problems, minimum=0),
        lock_stale_after=stale_after,
        guard_manifests=_paths(entry.get("guard_manifests", []), at, problems, key="guard_manifests"),
        preview_env=_preview_env(entry.get("preview_env") or {}, at, base, problems),
    )


def _repo(doc: Any, at: Callable[[str], str], base: Path, problems: Problems) -> tuple[str, GitCredentials]:
    if isinstance(doc, str):
        doc = {"url": doc}
    if not isinstance(doc, dict) or "url" not in doc:
        problems.add(at("repo"), "must be a URL, or a mapping with url (and credentials)")
        return "", GitCredentials()
    problems.unknown_keys(at("repo"), doc, REPO_KEYS)
    try:
        kind, url = repository_kind(doc["url"], base)
    except GitNameError as error:
        problems.add(at("repo.url"), str(error))
        return "", GitCredentials()
    credentials = _credentials(doc.get("credentials"), kind, at, base, problems)
    return url, credentials


def _credentials(doc: Any, kind: str, at: Callable[[str], str], base: Path, problems: Problems) -> GitCredentials:
    if doc is None:
        return GitCredentials()
    if not isinstance(doc, dict):
        problems.add(at("repo.credentials"), f"must be a mapping of {', '.join(CREDENTIAL_KEYS)}")
        return GitCredentials()
    problems.unknown_keys(at("repo.credentials"), doc, CREDENTIAL_KEYS)
    password = None
    if "password" in doc:
        password = secret(doc["password"], at("repo.credentials.password"), base, problems)
    username = doc.get("username")
    if username is not None and (not isinstance(username, str) or not username or ":" in username):
        problems.add(at("repo.credentials.username"), "must be a user name without ':'")
    files = {}
    for key in ("ssh_key_file", "known_hosts_file"):
        if doc.get(key) is not None:
            files[key] = (base / os.path.expanduser(str(doc[key]))).resolve()
            if not files[key].is_file():
                problems.add(at(f"repo.credentials.{key}"), f"{files[key]} is not a file")
    if password is not None and kind == "scp":
        problems.add(at("repo.credentials.password"), "is for https URLs; this repository is reached over ssh (use ssh_key_file)")
    return GitCredentials(username=username, password=password, **files)


def _revision(entry: dict, at: Callable[[str], str], problems: Problems) -> tuple[Optional[str], Optional[str]]:
    branch, commit = entry.get("branch"), entry.get("commit")
    if branch is not None and commit is not None:
        problems.add(at("branch"), "give a branch or a fixed commit, not both")
    if commit is not None:
        try:
            check_commit(commit)
        except GitNameError as error:
            problems.add(at("commit"), str(error))
        return None, commit
    branch = "main" if branch is None else branch
    try:
        check_branch(branch)
    except GitNameError as error:
        problems.add(at("branch"), str(error))
    return branch, None


def _project_dir(value: Any, at: Callable[[str], str], problems: Problems) -> str:
    text = str(value)
    parts = Path(text).parts
    if Path(text).is_absolute() or ".." in parts or text.startswith("-"):
        problems.add(at("project_dir"), f"{text!r} must be a folder inside the repository, like . or infra/")
        return "."
    return Path(text).as_posix()


def _backend(value: Any, at: Callable[[str], str], base: Path, problems: Problems) -> str:
    if not isinstance(value, str) or "://" not in value:
        problems.add(at("backend_url"), f"must be a Pulumi backend URL like file://.state/pulumi-backend or s3://bucket, got {value!r}")
        return ""
    scheme, rest = value.split("://", 1)
    if scheme not in BACKEND_SCHEMES:
        problems.add(at("backend_url"), f"scheme {scheme!r} is not one of {', '.join(BACKEND_SCHEMES)}")
    if scheme != "file":
        return value
    # Pulumi reads a relative file:// path against its working directory, which is
    # the checkout; here it means: relative to this config file.
    path = (base / os.path.expanduser(rest.split("?", 1)[0])).resolve()
    return f"file://{path}"


def _paths(value: Any, at: Callable[[str], str], problems: Problems, key: str = "paths") -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        problems.add(at(key), "must be a list of folders or files, relative to the repository root")
        return ()
    for item in value:
        if item.startswith(("-", ":", "/")) or ".." in Path(item).parts:
            problems.add(at(key), f"{item!r} must be relative to the repository root, without '..', ':' or '-' at its start")
    return tuple(value)


def _guard(value: Any, at: Callable[[str], str], problems: Problems) -> Optional[int]:
    if value in ("off", None):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.add(at("deletion_guard"), f"must be a count of deletes+replaces allowed without a trailer (0 or more) or off, got {value!r}")
        return 0
    return value


def _virtualenv(value: Any, at: Callable[[str], str], base: Path, problems: Problems) -> Path:
    if value is None:
        if sys.prefix == sys.base_prefix:
            problems.add(at("virtualenv"), "is required when the reconciler itself does not run in a virtualenv")
        return Path(sys.prefix)
    path = (base / os.path.expanduser(str(value))).resolve()
    if not (path / "bin" / "python").exists():
        problems.add(at("virtualenv"), f"{path} has no bin/python; create it with `make venv`")
    return path


def _overrides(doc: Any, at: Callable[[str], str], base: Path, problems: Problems) -> tuple[ConfigOverride, ...]:
    if not isinstance(doc, dict):
        problems.add(at("config"), "must be a mapping of Pulumi config key to value")
        return ()
    overrides: list[ConfigOverride] = []
    for key, value in doc.items():
        where = at(f"config.{key}")
        if not isinstance(key, str) or not _CONFIG_KEY.match(key):
            problems.add(where, "the key must be a namespaced Pulumi config key like pulumi-gitops:kubeconfig")
            continue
        if isinstance(value, (str, int, float, bool)):
            overrides.append(ConfigOverride(key, _scalar(value)))
        elif isinstance(value, dict) and len(value) == 1 and next(iter(value)) in OVERRIDE_FORMS:
            overrides += _override_form(key, value, where, base, problems)
        else:
            problems.add(where, f"must be a plain value or one of {{{'|'.join(OVERRIDE_FORMS)}: ...}}")
    return tuple(overrides)


def _override_form(key: str, value: dict, where: str, base: Path, problems: Problems) -> list[ConfigOverride]:
    form, inner = next(iter(value.items()))
    if form == "path":
        return [ConfigOverride(key, str((base / os.path.expanduser(str(inner))).resolve()))]
    if form in ("secret_env", "secret_file"):
        found = secret({form.removeprefix("secret_"): inner}, where, base, problems)
        return [ConfigOverride(key, found.value, secret=True, source=found.path)] if found else []
    return [ConfigOverride(key, inner)]


def _scalar(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _env(doc: Any, at: Callable[[str], str], problems: Problems) -> tuple[tuple[str, str], ...]:
    if not isinstance(doc, dict) or not all(isinstance(k, str) and _ENV_NAME.match(k) for k in doc):
        problems.add(at("env"), "must map environment variable names to plain values (secrets go in config with secret_env)")
        return ()
    return tuple((name, _scalar(value)) for name, value in doc.items())


def _preview_env(doc: Any, at: Callable[[str], str], base: Path, problems: Problems) -> tuple[tuple[str, Union[str, Secret]], ...]:
    """NAME: plain value, or NAME: {env: VAR} / {file: PATH} for a secret (the read-only credentials a preview uses)."""
    if not isinstance(doc, dict):
        problems.add(at("preview_env"), "must map environment variable names to a plain value, {env: NAME} or {file: PATH}")
        return ()
    values: list[tuple[str, Union[str, Secret]]] = []
    for name, value in doc.items():
        where = at(f"preview_env.{name}")
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            problems.add(where, "the key must be an environment variable name like AWS_ACCESS_KEY_ID")
        elif isinstance(value, (str, int, float, bool)):
            values.append((name, _scalar(value)))
        elif (found := secret(value, where, base, problems)) is not None:
            values.append((name, found))
    return tuple(values)


def check_unique(stacks: list[StackSpec], problems: Problems) -> None:
    seen_names: set[str] = set()
    seen_targets: dict[tuple[str, str, str, str], str] = {}
    for spec in stacks:
        if spec.name in seen_names:
            problems.add(f"stacks ({spec.name})", "the name is used twice; each entry needs its own")
        seen_names.add(spec.name)
        target = (spec.backend_url, spec.repo_url, spec.project_dir, spec.stack)
        if target in seen_targets:
            problems.add(
                f"stacks ({spec.name})",
                f"updates the same Pulumi stack as {seen_targets[target]!r}; two entries would run two updates of one stack",
            )
        seen_targets.setdefault(target, spec.name)
