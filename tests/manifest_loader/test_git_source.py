"""Which files are read: tracked blobs at HEAD under the folder, never the work tree."""

from __future__ import annotations

import pytest

from manifest_loader import ManifestError, load_manifests


def names(loaded):
    return [obj.key.name for obj in loaded.objects]


def test_reads_tracked_files_only_not_untracked_or_ignored(work_tree):
    work_tree.write("manifests/tracked.yaml", work_tree.config_map("tracked"))
    work_tree.write(".gitignore", "manifests/ignored.yaml\n")
    work_tree.commit()
    work_tree.write("manifests/untracked.yaml", work_tree.config_map("untracked"))
    work_tree.write("manifests/ignored.yaml", work_tree.config_map("ignored"))

    loaded = load_manifests(work_tree.root, "manifests")

    assert names(loaded) == ["tracked"]
    assert loaded.dirty is True  # the untracked file, not the ignored one
    assert loaded.dirty_paths == ["manifests/untracked.yaml (untracked)"]


def test_staged_but_uncommitted_file_is_not_read(work_tree):
    work_tree.write("manifests/a.yaml", work_tree.config_map("a"))
    work_tree.commit()
    work_tree.write("manifests/staged.yaml", work_tree.config_map("staged"))
    work_tree.stage("manifests/staged.yaml")

    loaded = load_manifests(work_tree.root, "manifests")

    assert names(loaded) == ["a"]
    assert loaded.dirty_paths == ["manifests/staged.yaml (added, staged)"]


def test_deploys_committed_content_not_work_tree_edits(work_tree):
    work_tree.write("manifests/a.yaml", work_tree.config_map("a", value="committed"))
    commit = work_tree.commit()
    work_tree.write("manifests/a.yaml", work_tree.config_map("a", value="edited"))

    loaded = load_manifests(work_tree.root, "manifests")

    assert loaded.commit == commit
    assert loaded.objects[0].body["data"] == {"key": "committed"}
    assert loaded.dirty is True
    assert loaded.dirty_paths == ["manifests/a.yaml (modified, not staged)"]


def test_clean_tree_is_not_dirty(work_tree):
    work_tree.write("manifests/a.yaml", work_tree.config_map("a"))
    work_tree.write("README.md", "outside the manifests folder\n")
    work_tree.commit()
    work_tree.write("README.md", "edited outside the manifests folder\n")

    loaded = load_manifests(work_tree.root, "manifests", require_clean=True)

    assert loaded.dirty is False
    assert loaded.dirty_paths == []


def test_require_clean_refuses_and_lists_every_changed_file(work_tree):
    work_tree.write("manifests/a.yaml", work_tree.config_map("a"))
    work_tree.write("manifests/b.yaml", work_tree.config_map("b"))
    work_tree.commit()
    work_tree.write("manifests/a.yaml", work_tree.config_map("a", value="edited"))
    work_tree.write("manifests/b.yaml", work_tree.config_map("b", value="staged"))
    work_tree.stage("manifests/b.yaml")
    work_tree.write("manifests/new.yaml", work_tree.config_map("new"))

    with pytest.raises(ManifestError) as raised:
        load_manifests(work_tree.root, "manifests", require_clean=True)

    message = str(raised.value)
    assert "manifests/a.yaml: uncommitted change (modified, not staged)" in message
    assert "manifests/b.yaml: uncommitted change (modified, staged)" in message
    assert "manifests/new.yaml: uncommitted change (untracked)" in message
    assert len(raised.value.problems) == 3


def test_non_yaml_files_are_ignored_and_yml_is_read(work_tree):
    work_tree.write("manifests/a.yml", work_tree.config_map("from-yml"))
    work_tree.write("manifests/notes.txt", "not: [valid")
    work_tree.write("manifests/values.json", '{"kind": "ConfigMap"}')
    work_tree.write("manifests/a.yaml.bak", "not: [valid")
    work_tree.commit()

    assert names(load_manifests(work_tree.root, "manifests")) == ["from-yml"]


def test_nested_folders_are_read_in_path_order(work_tree):
    work_tree.write("manifests/z.yaml", work_tree.config_map("z"))
    work_tree.write("manifests/b/deep/c.yaml", work_tree.config_map("c"))
    work_tree.write("manifests/a.yaml", work_tree.config_map("a"))
    work_tree.commit()

    loaded = load_manifests(work_tree.root, "manifests")

    assert [obj.path for obj in loaded.objects] == ["manifests/a.yaml", "manifests/b/deep/c.yaml", "manifests/z.yaml"]


def test_files_outside_the_manifests_folder_are_not_read(work_tree):
    work_tree.write("manifests/a.yaml", work_tree.config_map("a"))
    work_tree.write("other/b.yaml", work_tree.config_map("b"))
    work_tree.commit()

    assert names(load_manifests(work_tree.root, "manifests")) == ["a"]


def test_repo_dir_may_be_a_subfolder_and_paths_may_be_absolute(work_tree):
    work_tree.write("deploy/manifests/a.yaml", work_tree.config_map("a"))
    work_tree.write("deploy/program/__main__.py", "")
    work_tree.commit()

    relative = load_manifests(work_tree.root / "deploy/program", "../manifests")
    absolute = load_manifests(work_tree.root / "deploy/program", work_tree.root / "deploy/manifests")

    assert [obj.path for obj in relative.objects] == ["deploy/manifests/a.yaml"]
    assert [obj.path for obj in absolute.objects] == ["deploy/manifests/a.yaml"]


def test_missing_manifests_folder_is_a_clear_error(work_tree):
    work_tree.write("other/a.yaml", work_tree.config_map("a"))
    work_tree.commit()

    with pytest.raises(ManifestError, match=r"manifests: the manifests folder does not exist"):
        load_manifests(work_tree.root, "manifests")


def test_untracked_manifests_folder_is_a_clear_error(work_tree):
    work_tree.write("other/a.yaml", work_tree.config_map("a"))
    work_tree.commit()
    work_tree.write("manifests/a.yaml", work_tree.config_map("a"))

    with pytest.raises(ManifestError, match=r"manifests: the manifests folder is not tracked in HEAD commit [0-9a-f]{12}"):
        load_manifests(work_tree.root, "manifests")


def test_manifests_folder_outside_the_repository_is_refused(work_tree, tmp_path):
    work_tree.write("manifests/a.yaml", work_tree.config_map("a"))
    work_tree.commit()
    (tmp_path / "elsewhere").mkdir()

    with pytest.raises(ManifestError, match=r"elsewhere: is outside the Git work tree"):
        load_manifests(work_tree.root, tmp_path / "elsewhere")


def test_manifests_path_that_is_a_file_is_refused(work_tree):
    work_tree.write("manifests.yaml", work_tree.config_map("a"))
    work_tree.commit()

    with pytest.raises(ManifestError, match=r"manifests\.yaml: is a file at HEAD, not a folder"):
        load_manifests(work_tree.root, "manifests.yaml")


def test_outside_any_repository_is_a_clear_error(tmp_path):
    (tmp_path / "plain").mkdir()

    with pytest.raises(ManifestError, match=r"plain: is not inside a Git work tree"):
        load_manifests(tmp_path / "plain", "manifests")


def test_repository_without_commits_is_a_clear_error(work_tree):
    work_tree.write("manifests/a.yaml", work_tree.config_map("a"))

    with pytest.raises(ManifestError, match=r"repo: the repository has no commit yet. Commit the manifests first"):
        load_manifests(work_tree.root, "manifests")


def test_symlink_leaving_the_repository_is_refused(work_tree, tmp_path):
    (tmp_path / "secret.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: stolen\n")
    work_tree.write("manifests/a.yaml", work_tree.config_map("a"))
    work_tree.symlink("manifests/escape.yaml", "../../secret.yaml")
    work_tree.commit()

    with pytest.raises(ManifestError, match=r"manifests/escape\.yaml: is a symlink to '\.\./\.\./secret\.yaml', outside the repository"):
        load_manifests(work_tree.root, "manifests")


def test_symlink_inside_the_repository_is_refused_too(work_tree):
    work_tree.write("manifests/a.yaml", work_tree.config_map("a"))
    work_tree.symlink("manifests/alias.yaml", "a.yaml")
    work_tree.commit()

    with pytest.raises(ManifestError, match=r"manifests/alias\.yaml: is a symlink to 'a\.yaml', inside the repository; symlinks are not followed"):
        load_manifests(work_tree.root, "manifests")


def test_empty_manifests_folder_loads_nothing(work_tree):
    work_tree.write("manifests/README.md", "no manifests yet\n")
    commit = work_tree.commit()

    loaded = load_manifests(work_tree.root, "manifests")

    assert (loaded.commit, loaded.objects, loaded.dirty) == (commit, [], False)
