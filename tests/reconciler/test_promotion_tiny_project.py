"""A dev -> prod promotion chain on the real engine: the provider-free tiny project, two Pulumi stacks, one remote.

prod follows the same branch as dev with `promote_from: dev`. What the tests read is what a person reads:
`once --json`, the service's /status, and the status store's runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.status.store import StatusStore
from testsupport.reconciler_testing import TINY_PROJECT, free_port, json_lines, run_cli, tiny_stack, write_config

pytestmark = pytest.mark.e2e
SOAK_S = 4.0


@pytest.fixture
def tiny(remote):
    remote.commit("tiny project", TINY_PROJECT)
    return remote


def chain_config(tmp_path: Path, remote, port: int = 0, **prod: object) -> Path:
    backend = tmp_path / "backend"
    return write_config(tmp_path / "reconciler.yaml", [
        tiny_stack(remote, backend, name="dev", stack="dev"),
        tiny_stack(remote, backend, name="prod", stack="prod", promote_from="dev", **prod),
    ], listen=f"127.0.0.1:{port}")


def once(config: Path, stack: str, env: dict) -> tuple[int, dict]:
    done = run_cli("once", "--config", str(config), "--stack", stack, "--json", env=env)
    [line] = json_lines(done.stdout)
    return done.returncode, line


def conditions(entry: dict) -> dict:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in entry["conditions"]}


def test_prod_waits_for_the_soak_of_what_dev_applied_then_applies_it(tiny, tmp_path, engine_env, start_service):
    # prod polls hourly: it sees dev's commits only because dev's applies are promoted to it.
    port = free_port()
    service = start_service(chain_config(tmp_path, tiny, port, soak=f"{SOAK_S:g}s", resync_interval="1h"), engine_env, port)
    first = tiny.head()
    service.wait_until(lambda: service.stack("prod")["last_applied_commit"] == first, 120, "the first commit promoted")

    change = tiny.commit("a fourth thing", {"things.txt": "a\nb\nc\nd\n"})
    waiting = service.wait_until(
        lambda: (entry := service.stack("prod"))["reason"] == "PromotionPending" and entry["observed_commit"] == change and entry,
        120, "prod to wait for dev's soak",
    )
    service.wait_until(lambda: service.stack("prod")["last_applied_commit"] == change, 120, "the change promoted")

    status, reconciling, _ = conditions(waiting)["Reconciling"]
    assert (status, reconciling) == ("True", "PromotionPending")
    assert f"waiting for dev's soak of {SOAK_S:g}s" in waiting["error"] and "left" in waiting["error"]
    assert waiting["last_applied_commit"] == first, "prod stays at its commit while it waits"
    store = StatusStore(tmp_path / "reconciler-state" / "status.sqlite", read_only=True)
    try:
        dev_applied_at = store.stack_state("dev").last_applied_at
        runs = [run for run in store.runs("prod") if run["commit"] == change]
    finally:
        store.close()
    applied = next(run for run in runs if run["result"] == "applied")
    pending = [run for run in runs if run["reason"] == "PromotionPending"]
    assert pending and pending[-1]["trigger"] == "promotion", "dev's apply asked prod to look, long before its hourly poll"
    assert applied["started_at"] >= dev_applied_at + SOAK_S, "applied only once dev had run the commit for the soak"
    assert applied["changes"]["create"] == 1
    assert service.stop() == 0


def test_a_commit_that_fails_on_dev_keeps_prod_at_its_commit_until_a_fix_passes_dev(tiny, tmp_path, engine_env):
    config = chain_config(tmp_path, tiny)
    good = tiny.head()
    both = run_cli("once", "--config", str(config), "--json", env=engine_env)
    assert both.returncode == 0, both.stdout + both.stderr[-3000:]
    assert [(line["stack"], line["result"]) for line in json_lines(both.stdout)] == [("dev", "applied"), ("prod", "applied")], \
        "one once promotes down the chain: dev's pass comes first"

    broken = tiny.commit("broken", {"fail.txt": "things.txt names a thing twice\n", "things.txt": "a\nb\nc\nd\n"})
    dev_code, dev_line = once(config, "dev", engine_env)
    prod_code, prod_line = once(config, "prod", engine_env)
    status = {entry["stack"]: entry for entry in json_lines(run_cli("status", "--config", str(config), "--json", env=engine_env).stdout)}

    assert (dev_code, dev_line["result"], dev_line["reason"]) == (1, "failed", "ProgramError")
    assert set(prod_line) == {"stack", "commit", "result", "reason", "changes", "duration_s", "error"}
    assert (prod_code, prod_line["result"], prod_line["reason"], prod_line["commit"]) == (1, "failed", "PromotionPending", broken)
    assert prod_line["error"].startswith("waiting for dev: its last run failed (ProgramError)")
    assert prod_line["changes"] == {"create": 0, "update": 0, "replace": 0, "delete": 0, "same": 0}
    prod = status["prod"]
    assert prod["last_applied_commit"] == good and prod["observed_commit"] == broken
    assert conditions(prod)["Reconciling"][:2] == ("True", "PromotionPending")
    assert conditions(prod)["Stalled"][:2] == ("False", "NotStalled") and prod["failures"] == 0

    fixed = tiny.commit("fixed", {"fail.txt": None})
    assert once(config, "dev", engine_env)[1]["result"] == "applied"
    code, line = once(config, "prod", engine_env)
    assert (code, line["result"], line["commit"]) == (0, "applied", fixed)
    assert line["changes"]["create"] == 1, "only d is new on prod: the broken commit never ran there"
