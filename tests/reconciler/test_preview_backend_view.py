"""Which files of a diy backend a preview's CLI gets back in its sandbox: the metadata and its own stack's checkpoint."""

from __future__ import annotations

from pathlib import Path

from reconciler.preview.backend_view import files_a_preview_reads


def backend_with(root: Path, *files: str) -> Path:
    backend = root / "backend"
    for name in files:
        path = backend / ".pulumi" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return backend


def project(root: Path, text: str) -> Path:
    folder = root / "checkout"
    folder.mkdir(exist_ok=True)
    (folder / "Pulumi.yaml").write_text(text)
    return folder


def relative(backend: Path, paths: list[Path]) -> set[str]:
    return {str(path.relative_to(backend / ".pulumi")) for path in paths}


def test_the_stacks_checkpoint_of_the_project_the_checkout_names_and_the_metadata(tmp_path):
    backend = backend_with(tmp_path, "meta.yaml", "meta.yaml.attrs", "stacks/web/dev.json", "stacks/web/dev.json.attrs",
                           "stacks/web/dev.json.bak", "stacks/web/prod.json", "stacks/api/dev.json", "locks/web/dev/x.json",
                           "history/web/dev/1.history.json", "backups/web/dev/1.json")

    found = files_a_preview_reads(backend, project(tmp_path, "name: web\nruntime: python\n"), "dev")

    assert relative(backend, found) == {"meta.yaml", "meta.yaml.attrs", "stacks/web/dev.json", "stacks/web/dev.json.attrs"}


def test_a_qualified_stack_name_gives_the_project_and_a_compressed_checkpoint_is_found(tmp_path):
    backend = backend_with(tmp_path, "meta.yaml", "stacks/api/dev.json.gz", "stacks/web/dev.json")

    found = files_a_preview_reads(backend, project(tmp_path, "name: web\n"), "organization/api/dev")

    assert relative(backend, found) == {"meta.yaml", "stacks/api/dev.json.gz"}


def test_a_backend_from_before_project_folders_keeps_stacks_at_the_top(tmp_path):
    backend = backend_with(tmp_path, "meta.yaml", "stacks/dev.json", "stacks/prod.json")

    assert relative(backend, files_a_preview_reads(backend, project(tmp_path, "name: web\n"), "dev")) == {"meta.yaml", "stacks/dev.json"}


def test_a_project_name_that_is_a_path_reaches_nothing_outside_its_folder(tmp_path):
    backend = backend_with(tmp_path, "meta.yaml", "secret/dev.json", "stacks/web/dev.json")

    for hostile in ("name: ../secret\n", "name: ..\n", "name: [web]\n", ": not yaml :\n"):
        found = files_a_preview_reads(backend, project(tmp_path, hostile), "dev")
        assert relative(backend, found) == {"meta.yaml"}, hostile
