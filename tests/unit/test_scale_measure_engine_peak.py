"""The scale benchmark's peak of one engine: the largest `pulumi` CLI with its descendants, not the whole tree."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from testsupport.scale_measure import run_measured

# An engine stand-in: holds 60 MB and has a child (its plugin) holding 40 MB, both alive at once.
ENGINE = """
import subprocess
held = bytearray(60 * 2**20)
plugin = subprocess.Popen([PYTHON, "-c", "b = bytearray(40 * 2**20); import time; time.sleep(2)"])
plugin.wait()
"""


def test_the_engine_peak_is_one_cli_with_its_plugins_while_the_tree_holds_two(tmp_path: Path) -> None:
    # A process whose executable is named `pulumi` is what scale_measure counts as the CLI.
    pulumi = tmp_path / "pulumi"
    python = os.path.realpath(sys.executable)
    pulumi.symlink_to(python)
    (tmp_path / "engine.py").write_text(ENGINE.replace("PYTHON", repr(python)))
    engine = f"{pulumi} {tmp_path / 'engine.py'}"
    two_engines = f"{engine} --stack local.a & {engine} --stack=local.b & wait"

    measured = run_measured(["bash", "-c", two_engines], {"PATH": "/usr/bin:/bin"})

    assert measured.returncode == 0
    assert measured.processes["CLI"].processes == 2
    assert measured.peak_engine_mb >= 100, "the CLI and its plugin together"
    assert measured.peak_engine_anon_mb >= 100
    assert measured.peak_rss_mb >= 200, "both engines at once"
    assert measured.peak_engine_mb < measured.peak_rss_mb - 80, "one engine, not both"
    assert set(measured.engine_peaks) == {"local.a", "local.b"}
    assert all(100 <= rss < 180 and anon >= 100 for rss, anon in measured.engine_peaks.values())
