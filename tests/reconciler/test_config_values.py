"""The config's small languages: durations as people write them, and repository URLs and names git could misread."""

from __future__ import annotations

import pytest

from reconciler.settings.durations import format_duration, parse_duration
from reconciler.settings.git_names import GitNameError, check_branch, check_commit, repository_kind


@pytest.mark.parametrize("text, seconds", [
    ("90", 90), (90, 90), (1.5, 1.5), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800),
    ("250ms", 0.25), (" 1H ", 3600), ("1.5h", 5400), ("0", 0),
])
def test_durations_people_write(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["off", "never", "disabled", "OFF", "0", 0])
def test_off_is_none_where_allowed(text):
    assert parse_duration(text, allow_off=True) is None


@pytest.mark.parametrize("text", ["soon", "5 m", "m5", "5x", "", "1h junk", "1hx5m", "-5", True, None, [1]])
def test_bad_durations_say_how_to_write_one(text):
    with pytest.raises(ValueError, match="duration|negative"):
        parse_duration(text)


def test_off_is_refused_where_a_duration_is_required():
    with pytest.raises(ValueError, match="30s, 5m"):
        parse_duration("off")


def test_a_negative_number_is_refused():
    with pytest.raises(ValueError, match="negative"):
        parse_duration(-1)


@pytest.mark.parametrize("seconds, text", [(None, "off"), (7200, "2h"), (300, "5m"), (90, "90s"), (0.5, "0.5s"), (3660, "61m")])
def test_durations_are_shown_as_written(seconds, text):
    assert format_duration(seconds) == text
    if seconds:
        assert parse_duration(text) == seconds


def test_repository_urls_and_paths(tmp_path):
    (tmp_path / "repo").mkdir()
    assert repository_kind("https://github.com/o/r.git", tmp_path) == ("url", "https://github.com/o/r.git")
    assert repository_kind("ssh://git@github.com/o/r.git", tmp_path)[0] == "url"
    assert repository_kind("git@github.com:o/r.git", tmp_path) == ("scp", "git@github.com:o/r.git")
    assert repository_kind("repo", tmp_path) == ("path", str(tmp_path / "repo"))
    assert repository_kind("./repo", tmp_path) == ("path", str(tmp_path / "repo"))
    assert repository_kind(f"file://{tmp_path / 'repo'}", tmp_path) == ("url", str(tmp_path / "repo"))


@pytest.mark.parametrize("url, complaint", [
    ("", "is empty"),
    (" https://github.com/o/r", "spaces or control characters"),
    ("https://github.com/o/r\n", "spaces or control characters"),
    ("--upload-pack=touch /tmp/x", "starts with '-'"),
    ("-cprotocol.ext.allow=always", "starts with '-'"),
    ("ext::sh -c touch% /tmp/pwned", "remote helper"),
    ("fd::17", "remote helper"),
    ("ftp://example.com/r.git", "scheme 'ftp'"),
    ("https://user:pass@github.com/o/r.git", "credentials"),
    ("https://user@github.com/o/r.git", "credentials"),
    ("https:///o/r.git", "no host"),
    ("no-such-folder", "neither a URL"),
])
def test_repository_urls_git_could_misread_are_refused(tmp_path, url, complaint):
    with pytest.raises(GitNameError, match=complaint):
        repository_kind(url, tmp_path)


def test_a_file_url_must_name_a_folder(tmp_path):
    with pytest.raises(GitNameError, match="not an existing folder"):
        repository_kind(f"file://{tmp_path / 'missing'}", tmp_path)
    (tmp_path / "rel").mkdir()
    assert repository_kind("file://rel", tmp_path) == ("url", str(tmp_path / "rel"))


@pytest.mark.parametrize("branch", ["main", "release/1.2", "feature-x"])
def test_branch_names_git_accepts(branch):
    check_branch(branch)


@pytest.mark.parametrize("branch, complaint", [
    ("", "is empty"), ("-f", "starts with '-'"), ("refs/heads/main", "without refs/heads/"),
    ("a..b", "not a valid branch name"), ("with space", "not a valid branch name"), ("x.lock", "not a valid branch name"),
])
def test_branch_names_git_refuses(branch, complaint):
    with pytest.raises(GitNameError, match=complaint):
        check_branch(branch)


def test_only_full_commit_hashes():
    check_commit("a" * 40)
    check_commit("0" * 64)
    for bad in ("a" * 39, "A" * 40, "main", "a" * 41, None):
        with pytest.raises(GitNameError, match="full commit hash"):
            check_commit(bad)
