"""`down` gives the host back the kernel settings the kubelet changed (a panic on oops, overcommit)."""

import json
from pathlib import Path

from localenv import binaries, host_sysctls, kubelet_node
from localenv.certs import Pki
from localenv.settings import load


def host(tmp_path: Path, **values: str) -> Path:
    """A /proc/sys-like tree: one file per setting, as the kernel shows them."""
    root = tmp_path / "proc-sys"
    for name, value in values.items():
        path = root / name.replace(".", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")
    return root


def kubelet_starts(proc_sys: Path) -> None:
    """What setupKernelTunables writes."""
    for name, value in {"vm/overcommit_memory": "1", "kernel/panic": "10", "kernel/panic_on_oops": "1"}.items():
        (proc_sys / name).write_text(value + "\n")


def test_the_values_before_the_kubelet_are_written_back_and_forgotten(tmp_path):
    proc_sys = host(tmp_path, **{"vm.overcommit_memory": "0", "kernel.panic": "0", "kernel.panic_on_oops": "0",
                                 "vm.panic_on_oom": "0"})
    saved = tmp_path / "kubelet" / "host-sysctls.json"
    host_sysctls.save_once(saved, proc_sys)
    kubelet_starts(proc_sys)

    changed = host_sysctls.restore(saved, proc_sys)

    assert sorted(changed) == ["kernel.panic: 10 -> 0", "kernel.panic_on_oops: 1 -> 0", "vm.overcommit_memory: 1 -> 0"]
    assert (proc_sys / "kernel/panic").read_text().strip() == "0"
    assert (proc_sys / "vm/overcommit_memory").read_text().strip() == "0"
    assert not saved.exists()
    assert host_sysctls.restore(saved, proc_sys) == []  # a second `down` has nothing to undo


def test_a_restart_after_a_crash_keeps_the_hosts_values_not_the_kubelets(tmp_path):
    proc_sys = host(tmp_path, **{"kernel.panic": "0", "kernel.panic_on_oops": "0", "vm.overcommit_memory": "0"})
    saved = tmp_path / "host-sysctls.json"
    host_sysctls.save_once(saved, proc_sys)
    kubelet_starts(proc_sys)
    host_sysctls.save_once(saved, proc_sys)  # the kubelet died and `up` starts it again, no `down` between

    assert json.loads(saved.read_text()) == {"kernel/panic": "0", "kernel/panic_on_oops": "0", "vm/overcommit_memory": "0"}


def test_settings_this_kernel_lacks_are_left_out(tmp_path):
    proc_sys = host(tmp_path, **{"kernel.panic": "3"})
    saved = tmp_path / "host-sysctls.json"
    host_sysctls.save_once(saved, proc_sys)
    assert json.loads(saved.read_text()) == {"kernel/panic": "3"}


def test_the_real_hosts_settings_are_read_by_their_kubelet_names(tmp_path):
    saved = tmp_path / "host-sysctls.json"
    host_sysctls.save_once(saved)  # /proc/sys of this machine: reading only
    values = json.loads(saved.read_text())
    assert set(values) == set(host_sysctls.KUBELET_SYSCTLS)
    assert all(value.lstrip("-").isdigit() for value in values.values())


def test_the_kubelet_service_saves_before_its_start_and_restores_on_down(tmp_path, monkeypatch):
    # The real node's service: the saved copy is made when `up` builds the kubelet's command line, and
    # `down` (after_stop) writes it back and forgets it. Saved from this host's current values, so
    # writing them back changes nothing on the machine.
    monkeypatch.setenv("GITOPS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(binaries, "find", lambda name, settings: f"/bin/{name}")
    settings = load()
    service = kubelet_node.service(settings, Pki(settings.pki_dir))
    saved = kubelet_node.saved_sysctls(settings)

    service.argv()
    assert json.loads(saved.read_text()) == {name: (host_sysctls.PROC_SYS / name).read_text().strip()
                                             for name in host_sysctls.KUBELET_SYSCTLS}
    assert service.after_stop is not None
    service.after_stop()
    assert not saved.exists()
