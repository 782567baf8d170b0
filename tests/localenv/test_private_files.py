"""The local environment's files are for root alone: the kubeconfig with the cluster-admin key is never readable by others."""

import os
import stat
import subprocess
import sys
from pathlib import Path

from localenv import certs, kubeconfig

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_the_admin_kubeconfig_is_created_owner_only_even_under_a_permissive_umask(tmp_path, monkeypatch):
    pki = certs.ensure_pki(tmp_path / "pki")
    opened = []
    real_open = os.open

    def recording_open(path, flags, mode=0o777, *args, **kwargs):
        opened.append((Path(path).name, flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    previous = os.umask(0o022)
    try:
        path = kubeconfig.write(tmp_path / "kubeconfig", "https://127.0.0.1:16443", pki, "admin", "admin")
    finally:
        os.umask(previous)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    [(_, flags, mode)] = [entry for entry in opened if entry[0].startswith("kubeconfig")]
    assert flags & os.O_CREAT and flags & os.O_EXCL and mode == 0o600, "created new and owner-only, never chmod'ed later"
    assert "client-key-data" in path.read_text()


def test_every_localenv_command_runs_with_a_private_umask():
    probe = "import os, localenv.__main__ as m; m.main(['no-such-command']); print(oct(os.umask(0)))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)

    assert result.stdout.strip() == "0o77", result.stderr
