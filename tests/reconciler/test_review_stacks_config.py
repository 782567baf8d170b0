"""`review_stacks:` in a stack entry: its defaults, and every bad value named with the key and what to write."""

from __future__ import annotations

import pytest

from reconciler.settings import ConfigError, ReviewStackSettings, load_config
from testsupport.reconciler_testing import tiny_stack, write_config


def loaded(tmp_path, remote, review_stacks):
    stack = tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None, review_stacks=review_stacks)
    return load_config(write_config(tmp_path / "reconciler.yaml", [stack])).stacks[0]


def test_only_the_label_must_be_written_and_the_ttl_defaults_to_three_days(tmp_path, remote):
    spec = loaded(tmp_path, remote, {"label": "preview-env"})

    assert spec.review_stacks == ReviewStackSettings(label="preview-env", ttl_s=72 * 3600,
                                                     namespace_config="pulumi-gitops:reviewNamespace", url_output="url")


def test_a_stack_without_the_section_has_no_review_stacks(tmp_path, remote):
    stack = tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None)

    assert load_config(write_config(tmp_path / "reconciler.yaml", [stack])).stacks[0].review_stacks is None


def test_every_bad_value_is_named_at_once(tmp_path, remote):
    with pytest.raises(ConfigError) as raised:
        loaded(tmp_path, remote, {"label": "a,b", "ttl": "0s", "namespace_config": "no-colon", "url_output": "1url", "when": 1})

    text = str(raised.value)
    for expected in ("review_stacks.label: must be like 'preview-env', got 'a,b'",
                     "review_stacks.ttl: must be longer than 0s",
                     "review_stacks.namespace_config: must be like 'pulumi-gitops:reviewNamespace', got 'no-colon'",
                     "review_stacks.url_output: must be like 'url', got '1url'",
                     "review_stacks: unknown key 'when'"):
        assert expected in text


def test_the_label_is_required(tmp_path, remote):
    with pytest.raises(ConfigError, match=r"review_stacks.label"):
        loaded(tmp_path, remote, {"ttl": "1h"})
