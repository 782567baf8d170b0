"""The gate's one question to git, on a real repository: does the upstream's commit contain this one?

The downstream's checkout follows its own branch; the upstream's commit may live on another branch
and is fetched by its hash.
"""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.source.checkout import StackCheckout
from testsupport.reconciler_testing import git


@pytest.fixture
def history(remote):
    """main: m1 - m2 - m3 (m3 merges release's r1); release: m1 - r1 - r2 (r2 only on release)."""
    m1 = remote.commit("m1")
    git("checkout", "--quiet", "-b", "release", cwd=remote.clone)
    r1 = remote.commit("r1", push=False)
    r2 = remote.commit("r2", push=False)
    git("push", "--quiet", str(remote.bare), "HEAD:refs/heads/release", cwd=remote.clone)
    git("checkout", "--quiet", "main", cwd=remote.clone)
    m2 = remote.commit("m2")
    git("merge", "--quiet", "--no-edit", r1, cwd=remote.clone)
    remote.push()
    return {"m1": m1, "r1": r1, "r2": r2, "m2": m2, "m3": remote.head()}


@pytest.fixture
def release_checkout(tiny_spec, tmp_path):
    return StackCheckout(dataclasses.replace(tiny_spec, branch="release"), tmp_path / "workspace")


@pytest.mark.parametrize("commit, descendant, contained", [
    ("r1", "m3", True),   # a release commit main merged: it ran upstream
    ("m1", "m3", True),
    ("r2", "m3", False),  # only on release
    ("m2", "r2", False),  # only on main
    ("m3", "m3", True),
])
def test_containment_across_branches(history, release_checkout, commit, descendant, contained):
    assert release_checkout.contains(history[commit], history[descendant]) is contained


def test_an_upstream_commit_the_remote_no_longer_holds_contains_nothing(history, release_checkout):
    assert release_checkout.contains(history["r1"], "d" * 40) is False
