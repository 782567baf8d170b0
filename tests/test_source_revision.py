from pathlib import Path

import pytest

from source_revision import SourceRevisionError, folder_revision
from testsupport.git_repos import commit_all, init_repo


@pytest.fixture
def repo(tmp_path: Path):
    repo = init_repo(tmp_path / "r")
    (tmp_path / "r" / "app").mkdir()
    (tmp_path / "r" / "app" / "server.py").write_text("print('v1')\n")
    (tmp_path / "r" / "manifests").mkdir()
    (tmp_path / "r" / "manifests" / "a.yaml").write_text("kind: A\n")
    commit_all(repo, "first")
    return repo


def app_dir(repo) -> Path:
    return Path(repo.working_tree_dir) / "app"


def test_clean_folder_is_tagged_with_the_last_commit_that_touched_it(repo):
    app_commit = repo.head.commit.hexsha
    (Path(repo.working_tree_dir) / "manifests" / "a.yaml").write_text("kind: B\n")
    commit_all(repo, "manifests only")

    revision = folder_revision(app_dir(repo))

    assert revision.commit == app_commit != repo.head.commit.hexsha
    assert revision.tag == app_commit[:12]
    assert revision.dirty is False


def test_a_new_app_commit_changes_the_tag(repo):
    before = folder_revision(app_dir(repo)).tag
    (app_dir(repo) / "server.py").write_text("print('v2')\n")
    commit_all(repo, "app v2")

    assert folder_revision(app_dir(repo)).tag == repo.head.commit.hexsha[:12] != before


def test_uncommitted_changes_get_a_distinct_tag_that_follows_the_content(repo):
    clean = folder_revision(app_dir(repo)).tag
    (app_dir(repo) / "server.py").write_text("print('edit 1')\n")
    first = folder_revision(app_dir(repo))
    (app_dir(repo) / "server.py").write_text("print('edit 2')\n")
    second = folder_revision(app_dir(repo))
    (app_dir(repo) / "new.py").write_text("x = 1\n")
    with_untracked = folder_revision(app_dir(repo))

    assert first.dirty and second.dirty
    assert first.tag.startswith(f"{clean}-dirty-")
    assert len({clean, first.tag, second.tag, with_untracked.tag}) == 4


def test_changes_outside_the_folder_leave_it_clean(repo):
    (Path(repo.working_tree_dir) / "manifests" / "a.yaml").write_text("kind: C\n")
    assert folder_revision(app_dir(repo)).dirty is False


def test_a_folder_outside_git_is_refused_with_what_to_do(tmp_path):
    (tmp_path / "loose").mkdir()
    with pytest.raises(SourceRevisionError, match="loose: not inside a Git work tree.*commit"):
        folder_revision(tmp_path / "loose")


def test_a_folder_git_never_committed_is_refused(repo):
    (Path(repo.working_tree_dir) / "other").mkdir()
    (Path(repo.working_tree_dir) / "other" / "f").write_text("x")
    with pytest.raises(SourceRevisionError, match="other: Git tracks no commit"):
        folder_revision(Path(repo.working_tree_dir) / "other")
