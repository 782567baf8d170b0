"""The published JSON schema and the README's config table are the models' own, never a stale copy."""

from __future__ import annotations

import json
import os
import subprocess

import jsonschema
import yaml

from reconciler.settings.json_schema import TABLE_END, TABLE_START, config_schema, markdown_table, schema_text
from testsupport.reconciler_testing import PROJECT_DIR, PYTHON


def test_the_committed_schema_is_what_the_models_produce():
    assert (PROJECT_DIR / "reconciler" / "config.schema.json").read_text() == schema_text(), \
        "run: .venv/bin/python -m reconciler schema > reconciler/config.schema.json"


def test_the_schema_command_prints_it():
    result = subprocess.run([PYTHON, "-m", "reconciler", "schema"], cwd=PROJECT_DIR, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)}, timeout=60, check=True)
    assert json.loads(result.stdout) == config_schema()


def test_the_readme_table_is_generated_from_the_schema():
    readme = (PROJECT_DIR / "reconciler" / "README.md").read_text()
    table = readme.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()
    assert table == markdown_table(config_schema()), \
        "run: .venv/bin/python -m reconciler schema --readme reconciler/README.md"


def test_the_table_names_every_key_of_a_stack_entry_with_its_default():
    table = markdown_table(config_schema())
    assert "| `stacks[].resync_interval` | `60s` |" in table
    assert "| `stacks[].backend_url` | required |" in table
    assert "| `stacks[].repo.credentials.password` | none |" in table
    assert "| `retry.backoff_cap` | `10m` |" in table


def test_the_sample_configs_follow_the_schema_and_unknown_keys_do_not():
    schema = config_schema()
    for sample in ("reconciler.local.yaml", "reconciler.aws.yaml"):
        jsonschema.validate(yaml.safe_load((PROJECT_DIR / sample).read_text()), schema)
    document = yaml.safe_load((PROJECT_DIR / "reconciler.local.yaml").read_text())
    document["stacks"][0]["brnach"] = "main"
    assert not jsonschema.Draft202012Validator(schema).is_valid(document)
