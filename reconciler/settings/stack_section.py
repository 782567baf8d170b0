"""One entry of `stacks:` in the reconciler config as a pydantic model: where its code is, how and how often it runs."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from .events_section import EventsSection
from .fields import (
    SECRET_SCHEMA,
    Duration,
    DurationOrOff,
    GeneratedSecretRef,
    PositiveDuration,
    RelativePath,
    SecretRef,
    config_dir,
    resolved_path,
    written,
)
from .git_names import GitNameError, check_branch, check_commit, repository_kind
from .model import Secret
from .review_stacks_section import ReviewStacksSection
from .secret_sources import read_secret
from .sections import ENV_NAME, Section

BACKEND_SCHEMES = ("file", "s3", "gs", "azblob", "https", "http")
OVERRIDE_FORMS = ("path", "secret_env", "secret_file", "value")
_STACK_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
_CONFIG_KEY = r"^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$"
# GitHub's limits on owner and repository names: nothing that could change an API path.
_OWNER_REPO = r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$"
Scalar = Union[str, int, float, bool]


def _env_name(name: str) -> str:
    if not re.fullmatch(ENV_NAME, name):
        raise ValueError("the key must be an environment variable name like AWS_ACCESS_KEY_ID")
    return name


def _config_key(key: str) -> str:
    if not re.fullmatch(_CONFIG_KEY, key):
        raise ValueError("the key must be a namespaced Pulumi config key like pulumi-gitops:kubeconfig")
    return key


def scalar_text(value: Any) -> str:
    """How a plain YAML value reaches Pulumi or the environment: text, with booleans as `true`/`false`."""
    if not isinstance(value, (str, int, float, bool)):
        raise ValueError("must be a plain value (text, number or true/false)")
    return str(value).lower() if isinstance(value, bool) else str(value)


def _override(value: Any, info: ValidationInfo) -> tuple[Any, bool, Optional[Path]]:
    """(value, secret, the file to read again before each pass) of one `config:` entry."""
    if isinstance(value, (str, int, float, bool)):
        return scalar_text(value), False, None
    if not (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in OVERRIDE_FORMS):
        raise ValueError(f"must be a plain value or one of {{{'|'.join(OVERRIDE_FORMS)}: ...}}")
    form, inner = next(iter(value.items()))
    if form == "path":
        return str(resolved_path(inner, info)), False, None
    if form == "value":
        return inner, False, None
    found = read_secret({form.removeprefix("secret_"): inner}, config_dir(info))
    return found.value, True, found.path


def _preview_env_value(value: Any, info: ValidationInfo) -> Union[str, Secret]:
    if isinstance(value, (str, int, float, bool)):
        return scalar_text(value)
    return read_secret(value, config_dir(info))


SCALAR_SCHEMA = {"type": ["string", "number", "boolean"]}
EnvName = Annotated[str, AfterValidator(_env_name)]
ConfigKey = Annotated[str, AfterValidator(_config_key)]
Override = Annotated[
    tuple[Any, bool, Optional[Path]],
    PlainValidator(_override),
    WithJsonSchema({"anyOf": [
        SCALAR_SCHEMA,
        *({"type": "object", "properties": {form: {}}, "required": [form], "additionalProperties": False} for form in OVERRIDE_FORMS),
    ]}),
]
PreviewEnvValue = Annotated[
    Union[str, Secret], PlainValidator(_preview_env_value), WithJsonSchema({"anyOf": [SCALAR_SCHEMA, SECRET_SCHEMA]}),
]
PlainText = Annotated[str, BeforeValidator(scalar_text), WithJsonSchema(SCALAR_SCHEMA)]


def _repo_mapping(value: Any) -> Any:
    if isinstance(value, str):
        return {"url": value}
    if not isinstance(value, dict):
        raise ValueError("must be a URL, or a mapping with url (and credentials)")
    return value


def _or_a_url(schema: dict[str, Any]) -> None:
    schema["anyOf"] = [{"type": "string", "description": "the repository URL or path"}, {"$ref": schema.pop("$ref")}]


class CredentialsSection(Section):
    username: Optional[str] = Field(None, description="user name for an https repository (git's default: x-access-token)")
    password: Optional[SecretRef] = Field(None, description="password or token for an https repository")
    ssh_key_file: Optional[RelativePath] = Field(None, description="private key for an ssh repository")
    known_hosts_file: Optional[RelativePath] = Field(None, description="known_hosts for an ssh repository")

    @field_validator("username")
    @classmethod
    def _user_name(cls, username: Optional[str]) -> Optional[str]:
        if username is not None and (not username or ":" in username):
            raise ValueError("must be a user name without ':'")
        return username

    @field_validator("ssh_key_file", "known_hosts_file")
    @classmethod
    def _existing_file(cls, path: Optional[Path]) -> Optional[Path]:
        if path is not None and not path.is_file():
            raise ValueError(f"{path} is not a file")
        return path


class RepoSection(Section):
    url: str = Field(description="https/ssh URL, user@host:path, or a folder relative to the config file")
    credentials: Optional[CredentialsSection] = Field(None, description="how git signs in (secrets from env or file)")

    @field_validator("url")
    @classmethod
    def _git_can_read_it(cls, url: str, info: ValidationInfo) -> str:
        return repository_kind(url, config_dir(info))[1]

    @field_validator("credentials")
    @classmethod
    def _password_for_https(cls, credentials: Optional[CredentialsSection], info: ValidationInfo) -> Optional[CredentialsSection]:
        url = info.data.get("url", "")
        reached_over_ssh = "://" not in url and not url.startswith("/")
        if credentials is not None and credentials.password is not None and url and reached_over_ssh:
            raise ValueError("password is for https URLs; this repository is reached over ssh (use ssh_key_file)")
        return credentials


class StackSection(Section):
    name: str = Field(description="the entry's name: it names its folder, its status and its metrics")
    repo: Annotated[RepoSection, BeforeValidator(_repo_mapping)] = Field(
        description="the Git repository: a URL or path, or a mapping with url and credentials", json_schema_extra=_or_a_url,
    )
    branch: Optional[str] = Field(None, description="the branch followed (default main); or give commit")
    commit: Optional[str] = Field(None, description="a fixed full commit hash to hold the stack at, instead of a branch")
    promote_from: Optional[str] = Field(
        None, description="another stack of the same repository: a commit is applied only after that stack applied it "
        "(or a commit containing it) and stayed Ready for `soak`",
    )
    soak: Duration = written("0s", "with promote_from: how long that stack must stay Ready, without drift, after its apply")
    require_healthy: StrictBool = Field(
        False, description="with promote_from: that stack must also be Ready now (at its own head, nothing pending)",
    )
    project_dir: str = Field(".", description="the Pulumi project's folder inside the repository")
    stack: Optional[str] = Field(None, description="the Pulumi stack name (default: the entry's name)")
    backend_url: str = Field(description="Pulumi backend URL: file:// (relative to this file), s3://, gs://, azblob://, https://")
    secrets_passphrase: Optional[GeneratedSecretRef] = Field(
        None, description="the stack's secrets passphrase; with generate: true a missing file is created",
    )
    resync_interval: PositiveDuration = written("60s", "how often the branch head is checked")
    drift_interval: DurationOrOff = written("15m", "how often the live resources are compared; off: never")
    auto_remediate: StrictBool = Field(False, description="apply the commit again when drift is found")
    paths: list[str] = Field([], description="only commits touching these (repository-relative, literal) run the stack; empty: all")
    deletion_guard: Union[int, str, None] = Field(
        None, json_schema_extra={"anyOf": [{"type": "integer", "minimum": 0}, {"const": "off"}, {"type": "null"}]},
        description="deletes+replaces allowed without an `Allow-Delete:` trailer; off: no guard (default 0 for stack prod/production, else off)",
    )
    virtualenv: Optional[RelativePath] = Field(None, description="the program's virtualenv (default: the reconciler's own)")
    config: dict[ConfigKey, Override] = Field(
        {}, description="Pulumi config set before each run: a plain value, {path}, {secret_env}, {secret_file} or {value}",
    )
    env: dict[EnvName, PlainText] = Field({}, description="environment of the program (plain values only)")
    operation_timeout: PositiveDuration = written("60m", "each engine operation's deadline (SIGINT, then SIGKILL after 60 s)")
    program_retries: StrictInt = Field(3, ge=0, description="retries of a failing program before the stack stalls")
    units_parallel: StrictInt = Field(
        4, ge=1, description="when its Pulumi.<stack>.yaml declares pulumi-gitops:units: how many of its unit stacks run at once",
    )
    lock_stale_after: Duration = written("2h", "a stack lock this old counts as abandoned, whoever holds it; must exceed operation_timeout")
    guard_manifests: list[str] = Field(
        [], description="manifest folders: a commit changing only these is judged by the guard without an engine preview",
    )
    preview_env: dict[EnvName, PreviewEnvValue] = Field(
        {},
        description="what a pull request preview's CLI gets besides the stack's own settings (never the service's environment): "
        "plain values, {env: NAME} or {file: PATH} (secrets, masked everywhere)",
    )
    preview_files: list[RelativePath] = Field(
        [], description="files or folders a pull request preview's program may read (read-only), e.g. the kubeconfig its "
        "config names; nothing else of the service's is readable to it",
    )
    events: Optional[EventsSection] = Field(None, description="where a Kubernetes Event is written for each run")
    checkpoints: Literal["auto", "always", "skip"] = Field(
        "auto", description="whether an `up` saves the state after every step: always, skip, or auto (skipped when the last "
        "state holds only Kubernetes objects and a recovery can sweep the stack's cluster)",
    )
    review_stacks: Optional[ReviewStacksSection] = Field(
        None, description="a pull request carrying the label gets a stack of its own, from its head, until it closes "
        "or the ttl runs out; unset: none",
    )

    github_repository: Optional[str] = Field(
        None, json_schema_extra={"anyOf": [{"type": "string", "pattern": _OWNER_REPO}, {"const": "off"}, {"type": "null"}]},
        description="owner/repo whose commits get this stack's commit statuses; unset: read from repo.url when it is "
        "on the GitHub of github.api_url; off: none",
    )

    @field_validator("github_repository")
    @classmethod
    def _owner_and_repo(cls, repository: Optional[str]) -> Optional[str]:
        if repository in (None, "off"):
            return repository
        if not re.fullmatch(_OWNER_REPO, repository) or {".", ".."} & set(repository.split("/")):
            raise ValueError(f"must be a GitHub repository written owner/repo (or off), got {repository!r}")
        return repository

    @field_validator("name")
    @classmethod
    def _folder_name(cls, name: str) -> str:
        if not re.fullmatch(_STACK_NAME, name):
            raise ValueError(f"{name!r} must be letters, digits, '.', '_' or '-' (it names a folder)")
        return name

    @field_validator("branch")
    @classmethod
    def _branch_git_accepts(cls, branch: Optional[str]) -> Optional[str]:
        if branch is not None:
            check_branch(branch)
        return branch

    @field_validator("commit")
    @classmethod
    def _one_fixed_commit(cls, commit: Optional[str], info: ValidationInfo) -> Optional[str]:
        if commit is None:
            return None
        problems = []
        if info.data.get("branch") is not None:
            problems.append("give a branch or a fixed commit, not both")
        try:
            check_commit(commit)
        except GitNameError as error:
            problems.append(str(error))
        if problems:
            raise ValueError("; ".join(problems))
        return commit

    @field_validator("project_dir")
    @classmethod
    def _inside_the_repository(cls, text: str) -> str:
        if Path(text).is_absolute() or ".." in Path(text).parts or text.startswith("-"):
            raise ValueError(f"{text!r} must be a folder inside the repository, like . or infra/")
        return Path(text).as_posix()

    @field_validator("stack")
    @classmethod
    def _stack_name(cls, stack: Optional[str]) -> Optional[str]:
        if stack is not None and (not stack or stack.startswith("-")):
            raise ValueError(f"must be a Pulumi stack name, got {stack!r}")
        return stack

    @field_validator("backend_url", mode="before")
    @classmethod
    def _backend(cls, value: Any, info: ValidationInfo) -> str:
        if not isinstance(value, str) or "://" not in value:
            raise ValueError(f"must be a Pulumi backend URL like file://.state/pulumi-backend or s3://bucket, got {value!r}")
        scheme, rest = value.split("://", 1)
        if scheme not in BACKEND_SCHEMES:
            raise ValueError(f"scheme {scheme!r} is not one of {', '.join(BACKEND_SCHEMES)}")
        # Pulumi reads a relative file:// path against its working directory, which is
        # the checkout; here it means: relative to this config file.
        return f"file://{resolved_path(rest.split('?', 1)[0], info)}" if scheme == "file" else value

    @field_validator("paths", "guard_manifests", mode="before")
    @classmethod
    def _repository_paths(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise ValueError("must be a list of folders or files, relative to the repository root")
        for item in value:
            if item.startswith(("-", ":", "/")) or ".." in Path(item).parts:
                raise ValueError(f"{item!r} must be relative to the repository root, without '..', ':' or '-' at its start")
        return value

    @field_validator("deletion_guard", mode="before")
    @classmethod
    def _count_or_off(cls, value: Any) -> Optional[int]:
        if value in ("off", None):
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"must be a count of deletes+replaces allowed without a trailer (0 or more) or off, got {value!r}")
        return value

    @field_validator("virtualenv")
    @classmethod
    def _has_python(cls, path: Optional[Path]) -> Path:
        if path is None:
            if sys.prefix == sys.base_prefix:
                raise ValueError("is required when the reconciler itself does not run in a virtualenv")
            return Path(sys.prefix)
        if not (path / "bin" / "python").exists():
            raise ValueError(f"{path} has no bin/python; create it with `make venv`")
        return path

    @field_validator("config", mode="before")
    @classmethod
    def _a_mapping(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("must be a mapping of Pulumi config key to value")
        return value

    @field_validator("lock_stale_after")
    @classmethod
    def _longer_than_a_run(cls, stale_after: float, info: ValidationInfo) -> float:
        if stale_after <= info.data.get("operation_timeout", 0):
            raise ValueError("must be longer than operation_timeout (a live run's lock is never that old)")
        return stale_after

    @model_validator(mode="after")
    def _soak_needs_an_upstream(self) -> "StackSection":
        written_alone = sorted({"soak", "require_healthy"} & self.model_fields_set) if self.promote_from is None else []
        if written_alone:
            raise ValueError(f"{' and '.join(written_alone)} only apply with promote_from; name the stack to promote from, "
                             "or remove them")
        return self
