"""Units: the manifests split into parts, each deployed by its own stack `<stack>.<unit>` of the same program.

Declared in the stack's own config file (`pulumi-gitops:units`), so only a
commit changes them. `split: folders` makes one unit per top-level folder of
the manifests (files directly in it form the unit "root"); `split: globs` makes
only the units listed, by their paths. A unit depends on the units it names in
`dependsOn`, and on the unit holding a Namespace its objects live in or a CRD
defining a kind it uses: those are deployed first.
"""

from __future__ import annotations

import heapq
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Union

import git
import yaml

from .git_source import blob_path, find_manifest_folder, open_repository, tracked_yaml_files
from .model import LoadedManifests, ManifestObject, ObjectKey
from .objects import to_objects
from .yaml_documents import parse_documents

UNITS_KEY = "pulumi-gitops:units"
SPLITS = ("folders", "globs")
ROOT_UNIT = "root"  # split: folders: the files directly in the manifests folder
UNIT_NAME_MAX = 40
_UNIT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_NAMESPACE = ("", "Namespace")
_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")
# What a unit stack reads from its parent stack (components/parent_stack.py). The reconciler runs a unit again
# whenever these change, so nothing else of the parent (its app folder, its commit) has to run the units.
PARENT_OUTPUTS_READ_BY_UNITS = ("kubeconfig", "imageRef")
_EXAMPLE = f'{UNITS_KEY}: {{split: globs, units: {{apps: {{paths: ["apps/**"], dependsOn: [platform]}}}}}}'


class UnitError(ValueError):
    """Units that cannot be planned; the message names the file, the key and what to write."""


_Fail = Callable[[str, str], UnitError]  # (key under pulumi-gitops:units, problem) -> the error


@dataclass(frozen=True)
class UnitEntry:
    """One entry of `units:` as written."""

    name: str
    paths: tuple[str, ...]  # globs relative to the manifests folder
    depends_on: tuple[str, ...]


@dataclass(frozen=True)
class UnitSettings:
    split: str  # one of SPLITS
    entries: tuple[UnitEntry, ...]  # sorted by name
    source: str  # the file they were read from, for errors found while planning


@dataclass(frozen=True)
class Unit:
    name: str
    files: tuple[str, ...]  # manifest files, relative to manifests_dir, sorted
    depends_on: tuple[str, ...]  # explicit dependsOn + automatic ones, sorted


@dataclass(frozen=True)
class UnitPlan:
    units: tuple[Unit, ...]  # in dependency order (dependencies first), ties by name
    commit: str = ""  # 40-hex HEAD commit whose manifests were planned

    def get(self, name: str) -> Unit:
        for unit in self.units:
            if unit.name == name:
                return unit
        known = ", ".join(unit.name for unit in self.units) or "none"
        raise UnitError(f"there is no unit {name!r} (units: {known}); check {UNITS_KEY} and the manifests' folders")

    def as_data(self) -> list[dict[str, object]]:
        """The plan as plain data, for a stack output and for humans."""
        return [{"name": u.name, "files": list(u.files), "dependsOn": list(u.depends_on)} for u in self.units]


def unit_stack_name(stack: str, unit: str) -> str:
    """`<stack>.<unit>`; for a qualified `org/project/stack` only the last segment gets the suffix."""
    return f"{stack}.{unit}"


def parent_stack_name(stack: str, unit: str) -> str:
    """The stack a unit stack was made from: its name without `.<unit>`, with the same org/project."""
    suffix = f".{unit}"
    if not stack.endswith(suffix):
        raise UnitError(f"the stack {stack!r} does not end with {suffix!r}; set pulumi-gitops:infraStack to the parent stack")
    return stack[: -len(suffix)]


def read_units_from_stack_file(project_dir: Union[str, os.PathLike], stack: str) -> Optional[UnitSettings]:
    """The units of `Pulumi.<stack>.yaml` in project_dir; None when the file or the key is absent, or `{}`."""
    name = f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"
    path = Path(project_dir) / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise UnitError(f"{name}: cannot be read ({error}); fix the file") from None
    return units_in_stack_file(text, name)


def units_in_stack_file(text: str, name: str) -> Optional[UnitSettings]:
    """The units a stack file's text declares (name: the file, for errors); None when it declares none."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UnitError(f"{name}: cannot be read ({error}); fix the file") from None
    config = document.get("config") if isinstance(document, dict) else None
    raw = config.get(UNITS_KEY) if isinstance(config, dict) else None
    return None if units_off(raw) else read_unit_settings(raw, name)


def units_off(raw: object) -> bool:
    """Whether the key's value keeps one stack for everything: unset, or Pulumi.yaml's default `{}`."""
    return raw is None or raw == {}


def read_unit_settings(raw: object, source: str) -> UnitSettings:
    """The validated settings from the value of `pulumi-gitops:units`; source names the file in errors."""

    def fail(key: str, problem: str) -> UnitError:
        return UnitError(f"{source}: {UNITS_KEY}{key}: {problem}")

    if not isinstance(raw, dict):
        raise fail("", f"must be a map with split and units, e.g. {_EXAMPLE}")
    unknown = sorted(set(raw) - {"split", "units"})
    if unknown:
        raise fail(f".{unknown[0]}", "is not a setting; the settings are split (folders or globs) and units")
    split = raw.get("split", "folders")
    if split not in SPLITS:
        raise fail(".split", f"must be one of {', '.join(SPLITS)}, got {split!r}")
    units = raw.get("units") or {}
    if not isinstance(units, dict):
        raise fail(".units", f"must be a map of unit name to its paths and dependsOn, e.g. {_EXAMPLE}")
    entries = [_entry(name, value, split, fail) for name, value in units.items()]
    if split == "globs" and not entries:
        raise fail(".units", f"lists no unit; with split: globs only the listed units exist, e.g. {_EXAMPLE}")
    return UnitSettings(split=split, entries=tuple(sorted(entries, key=lambda e: e.name)), source=source)


def _entry(name: object, value: object, split: str, fail: _Fail) -> UnitEntry:
    key = f".units.{name}"
    problem = unit_name_problem(name)
    if problem:
        raise fail(key, problem)
    assert isinstance(name, str)
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise fail(key, 'must be a map with paths and dependsOn, e.g. {paths: ["apps/**"], dependsOn: [platform]}')
    unknown = sorted(set(value) - {"paths", "dependsOn"})
    if unknown:
        raise fail(f"{key}.{unknown[0]}", "is not a unit setting; a unit has paths and dependsOn")
    paths = _strings(value.get("paths"), f"{key}.paths", 'a list of globs relative to manifestsDir, e.g. ["apps/**"]', fail)
    for path in paths:
        if path.startswith("/") or ".." in path.split("/") or "\\" in path:
            raise fail(f"{key}.paths", f"{path!r} must be a glob relative to manifestsDir, with / and no '..'")
    if split == "globs" and not paths:
        raise fail(f"{key}.paths", 'is required with split: globs; list the unit\'s files, e.g. ["apps/**"]')
    depends_on = _strings(value.get("dependsOn"), f"{key}.dependsOn", "a list of unit names, e.g. [platform]", fail)
    if name in depends_on:
        raise fail(f"{key}.dependsOn", f"names the unit itself; remove {name!r}")
    return UnitEntry(name=name, paths=tuple(paths), depends_on=tuple(sorted(set(depends_on))))


def _strings(value: object, key: str, shape: str, fail: _Fail) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise fail(key, f"must be {shape}")
    return list(value)


def unit_name_problem(name: object) -> str:
    """Why name cannot name a unit (its stack is `<stack>.<name>`), or ""."""
    if not isinstance(name, str) or not _UNIT_NAME.fullmatch(name) or len(name) > UNIT_NAME_MAX:
        return (
            f"{name!r} is not a unit name; use lowercase letters, digits and '-' (at most {UNIT_NAME_MAX} characters,"
            " starting and ending with a letter or digit)"
        )
    return ""


def plan_units(
    manifests_dir: Union[str, os.PathLike],
    settings: UnitSettings,
    loaded: Optional[LoadedManifests] = None,
    *,
    default_namespace: str = "default",
) -> UnitPlan:
    """The units of the manifests committed at HEAD under manifests_dir, in dependency order.

    The automatic dependencies come from loaded's objects when given, else from
    the files read here without validation (a file that does not parse adds
    none; loading the unit reports it). default_namespace is the namespace of
    objects that name none: give the stack's when loaded is None.
    """
    with open_repository(manifests_dir) as repo:
        folder = find_manifest_folder(repo, manifests_dir, manifests_dir)
        blobs, _ = tracked_yaml_files(folder)  # symlinks: the load refuses them
        prefix = f"{folder.path}/" if folder.path else ""
        files = [blob_path(blob)[len(prefix):] for blob in blobs]
        if loaded is None:
            objects = _objects_unvalidated(blobs, prefix, default_namespace, folder.commit)
        else:
            objects = [(obj.path[len(prefix):], obj) for obj in loaded.objects if obj.path.startswith(prefix)]
    unit_files = _assign(files, settings)
    unit_of = {file: unit for unit, files in unit_files.items() for file in files}
    objects = [(file, obj) for file, obj in objects if file in unit_of]  # e.g. a review stack's Namespace: no file
    _refuse_shared_objects(objects, unit_of, settings.source)
    edges = _edges(unit_files, unit_of, settings, objects)
    order = _dependency_order(sorted(unit_files), edges, settings.source)
    return UnitPlan(
        tuple(Unit(name, tuple(sorted(unit_files[name])), tuple(sorted(edges[name]))) for name in order),
        commit=folder.commit,
    )


def _objects_unvalidated(
    blobs: Iterable[git.Blob], prefix: str, default_namespace: str, commit: str
) -> list[tuple[str, ManifestObject]]:
    objects = []
    for blob in blobs:
        path = blob_path(blob)
        documents, _ = parse_documents(path, blob.data_stream.read())
        for document in documents:
            if document.data is not None:
                found, _ = to_objects(path, document, default_namespace, commit)
                objects += [(path[len(prefix):], obj) for obj in found]
    return objects


def _assign(files: list[str], settings: UnitSettings) -> dict[str, list[str]]:
    """Unit name -> its files: each file in the one unit whose paths match it, else (split: folders) its folder's."""
    patterns = [(entry.name, path, _glob_regex(path)) for entry in settings.entries for path in entry.paths]
    unit_files: dict[str, list[str]] = {entry.name: [] for entry in settings.entries if entry.paths}
    for file in files:
        owners: dict[str, str] = {}  # unit -> the paths that give it the file
        for unit, path, regex in patterns:
            if regex.fullmatch(file):
                owners.setdefault(unit, path)
        if not owners and settings.split == "folders":
            owners[_folder_unit(file, settings.source)] = "its folder"
        if len(owners) > 1:
            named = " and ".join(f"{unit} (paths {path!r})" for unit, path in sorted(owners.items()))
            raise UnitError(
                f"{settings.source}: {UNITS_KEY}: the manifest {file} is matched by two units, {named};"
                " narrow the paths so that one unit holds it"
            )
        if not owners:
            raise UnitError(
                f"{settings.source}: {UNITS_KEY}: the manifest {file} is in no unit (split: globs);"
                " add it to a unit's paths, e.g. units.<name>.paths: [\"" + file + "\"]"
            )
        unit_files.setdefault(next(iter(owners)), []).append(file)
    for entry in settings.entries:
        if entry.name not in unit_files:  # split: folders, an entry adding only dependsOn
            raise UnitError(
                f"{settings.source}: {UNITS_KEY}.units.{entry.name}: there is no folder {entry.name}/ with manifests;"
                " fix the name, give the unit paths, or remove the entry"
            )
    return unit_files


def unit_claims(settings: UnitSettings, unit: str) -> tuple[str, ...]:
    """Globs (relative to the manifests folder) of every file the settings would give `unit`, the files a commit
    deletes included: its paths, and with split: folders its folder (the root unit: the files directly in it).
    A superset where another unit's paths take a file from its folder."""
    claims = [path for entry in settings.entries if entry.name == unit for path in entry.paths]
    if settings.split == "folders":
        claims.append(f"{unit}/**")
        if unit == ROOT_UNIT:
            claims.append("*")
    return tuple(claims)


def claimed(path: str, claims: Iterable[str]) -> bool:
    """Whether a path matches one of the globs (`*` within a folder, `**` across folders)."""
    return any(_glob_regex(claim).fullmatch(path) for claim in claims)


def _folder_unit(file: str, source: str) -> str:
    if "/" not in file:
        return ROOT_UNIT
    folder = file.split("/", 1)[0]
    problem = unit_name_problem(folder)
    if problem:
        raise UnitError(
            f"{source}: {UNITS_KEY}: the folder {folder}/ makes a unit (split: folders) but {problem};"
            " rename the folder or use split: globs"
        )
    if folder == ROOT_UNIT:
        raise UnitError(
            f"{source}: {UNITS_KEY}: the folder {ROOT_UNIT}/ would share the unit {ROOT_UNIT!r} with the files"
            " directly in manifestsDir; rename the folder"
        )
    return folder


def _refuse_shared_objects(objects: list[tuple[str, ManifestObject]], unit_of: Mapping[str, str], source: str) -> None:
    """Two units applying one object would undo each other's changes; within a unit, the load refuses it."""
    first: dict[ObjectKey, str] = {}
    for file, obj in objects:
        other = first.setdefault(obj.key, file)
        if unit_of[other] != unit_of[file]:
            where = f" in namespace {obj.key.namespace}" if obj.key.namespace else ""
            raise UnitError(
                f"{source}: {UNITS_KEY}: the object {obj.ref}{where} is in unit {unit_of[other]} ({other}) and in unit"
                f" {unit_of[file]} ({file}); keep it in one unit"
            )


def _edges(
    unit_files: Mapping[str, list[str]],
    unit_of: Mapping[str, str],
    settings: UnitSettings,
    objects: list[tuple[str, ManifestObject]],
) -> dict[str, set[str]]:
    """Unit -> the units it depends on: explicit dependsOn, and the holders of its Namespaces and CRDs."""
    edges: dict[str, set[str]] = {unit: set() for unit in unit_files}
    for entry in settings.entries:
        for dependency in entry.depends_on:
            if dependency not in unit_files:
                raise UnitError(
                    f"{settings.source}: {UNITS_KEY}.units.{entry.name}.dependsOn: there is no unit {dependency!r}"
                    f" (units: {', '.join(sorted(unit_files))}); fix the name or remove it"
                )
            edges[entry.name].add(dependency)
    namespaces: dict[str, str] = {}  # namespace -> the unit holding its Namespace object
    kinds: dict[tuple[str, str], str] = {}  # (group, kind) -> the unit holding its CRD
    for file, obj in objects:
        if (obj.key.group, obj.key.kind) == _NAMESPACE:
            namespaces[obj.key.name] = unit_of[file]
        elif (obj.key.group, obj.key.kind) == _CRD:
            spec = obj.body.get("spec") or {}
            names = spec.get("names") if isinstance(spec, dict) else None
            if isinstance(names, dict) and isinstance(spec.get("group"), str) and isinstance(names.get("kind"), str):
                kinds[(spec["group"], names["kind"])] = unit_of[file]
    for file, obj in objects:
        unit = unit_of[file]
        for holder in (namespaces.get(obj.key.namespace), kinds.get((obj.key.group, obj.key.kind))):
            if holder is not None and holder != unit:
                edges[unit].add(holder)
    return edges


def _dependency_order(units: list[str], edges: Mapping[str, set[str]], source: str) -> list[str]:
    """Dependencies first, ties by name; a cycle is an error naming its units."""
    waiting = {unit: set(edges[unit]) for unit in units}
    ready = [unit for unit in units if not waiting[unit]]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        unit = heapq.heappop(ready)
        order.append(unit)
        for other, dependencies in waiting.items():
            if unit in dependencies:
                dependencies.discard(unit)
                if not dependencies:
                    heapq.heappush(ready, other)
    if len(order) < len(units):
        cycle = " -> ".join(_cycle({unit: deps for unit, deps in waiting.items() if deps}))
        raise UnitError(
            f"{source}: {UNITS_KEY}: the units {cycle} depend on each other (dependsOn, or a Namespace or CRD one"
            " holds that another uses); break the cycle: move the Namespace or CRD, or remove a dependsOn"
        )
    return order


def _cycle(remaining: Mapping[str, set[str]]) -> list[str]:
    """One cycle among units that all still wait on another, as `a, b, ..., a`."""
    path = [min(remaining)]
    while True:
        step = min(unit for unit in remaining[path[-1]] if unit in remaining)
        if step in path:
            return path[path.index(step):] + [step]
        path.append(step)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """fnmatch-style, on `/`-separated paths: `*` and `?` stay in one folder, `**` spans folders (or none)."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body.replace("\\", "\\\\")) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))
