"""A pull request comment shows `[secret]` for every secret of the stack, whatever the engine printed around it."""

from __future__ import annotations

from pulumi.automation import ConfigValue

from reconciler.telemetry.secret_masking import clean_text, mask_secrets, secret_config_values


def test_only_the_stack_configs_secret_values_are_the_ones_to_mask():
    config = {
        "web:token": ConfigValue("ghp_abcdef123456", secret=True),
        "web:replicas": ConfigValue("3", secret=False),
        "web:unset": ConfigValue("", secret=True),
    }

    assert secret_config_values(config) == ["ghp_abcdef123456"]


def test_a_secret_is_replaced_by_pulumis_own_placeholder():
    assert mask_secrets("token: ghp_abcdef123456 ok", ["ghp_abcdef123456"]) == "token: [secret] ok"


def test_in_a_comment_even_a_short_secret_is_masked():
    # Anyone who can read the pull request reads the comment: no length makes a secret safe to show.
    assert mask_secrets("pin=42 port=8080", ["42"]) == "pin=[secret] port=8080"


def test_escape_codes_inside_a_secret_cannot_smuggle_it_past_the_mask():
    printed = "password: hunter2-\x1b[1mpassword\x1b[0m\r\n"

    assert clean_text(printed, ["hunter2-password"]) == "password: [secret]\n"


def test_text_without_secrets_keeps_every_word():
    assert clean_text("+ create configmap/web", []) == "+ create configmap/web"
