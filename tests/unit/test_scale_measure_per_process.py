"""The scale benchmark's per-process figures: what each process is, and its memory in a real process tree."""

from __future__ import annotations

import sys

from testsupport.scale_measure import Measurement, ProcessUse, process_role, run_measured


def test_the_processes_of_a_pulumi_up_get_their_roles() -> None:
    assert process_role(["/cache/pulumi-3.274.1/bin/pulumi", "up", "--yes"]) == "CLI"
    assert process_role(["/home/pulumi-home/plugins/resource-kubernetes-v4/pulumi-resource-kubernetes"]) == "kubernetes"
    assert process_role(["pulumi-language-python", "-root=/p", "127.0.0.1:4000"]) == "language host"
    assert process_role(["/p/.venv/bin/python3.11", "-u", "/cache/bin/pulumi-language-python-exec", "--monitor", "x"]) == "program"
    assert process_role(["/usr/bin/git", "log"]) == "git"
    assert process_role(["python3", "-m", "pip", "list"]) == "python -m pip"
    assert process_role([]) == "?"


def test_each_process_of_the_tree_has_its_own_peak() -> None:
    # A shell with two children: one holds 80 MB, the other little; the shell's own RSS is small.
    holder = f"{sys.executable} -c 'b = bytearray(80 * 2**20); import time; time.sleep(1.5)'"
    idle = f"{sys.executable} -u -c 'import time; time.sleep(1.5)'"
    measured = run_measured(["bash", "-c", f"{holder} & {idle} & wait"], {"PATH": "/usr/bin:/bin"})

    assert measured.returncode == 0
    python = measured.processes["python -c"]
    assert python.processes == 2
    assert python.peak_rss_mb >= 80
    assert python.peak_anon_mb >= 80  # the bytearray is the process's own memory, not a file's pages
    assert measured.processes["bash"].peak_rss_mb < 80
    assert measured.peak_rss_mb >= python.peak_rss_mb
    assert measured.peak_rss_mb > measured.peak_anon_mb >= python.peak_anon_mb


def test_two_runs_merged_keep_the_larger_peak_and_add_cpu() -> None:
    first = Measurement(1.0, 100.0, 0, "", 0.5, 2.0, {"CLI": ProcessUse(90.0, 1.5, 1, 60.0)}, 70.0)
    second = Measurement(2.0, 300.0, 0, "", 0.7, 3.0,
                         {"CLI": ProcessUse(40.0, 0.5, 1, 20.0), "git": ProcessUse(5.0, 0.1, 1, 1.0)}, 200.0)

    merged = first.merged(second)

    assert merged.processes == {"CLI": ProcessUse(90.0, 2.0, 2, 60.0), "git": ProcessUse(5.0, 0.1, 1, 1.0)}
    assert (merged.peak_rss_mb, merged.peak_anon_mb, merged.cpu_seconds) == (300.0, 200.0, 5.0)
