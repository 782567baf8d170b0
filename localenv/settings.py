"""Where the local environment keeps its state, and which ports it uses.

Every path the environment writes is derived here from one state directory,
so `down` and a fresh clone never have to guess where something went.
"""

import os
from dataclasses import dataclass
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
# The node the real kubelet registers (its client certificate names it too).
REAL_NODE_NAME = "gitops-node-0"


@dataclass(frozen=True)
class Port:
    number: int
    env_name: str


def _port(env_name: str, default: int) -> Port:
    return Port(int(os.environ.get(env_name, default)), env_name)


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    tools_cache: Path
    registry_port: Port
    kine_port: Port
    apiserver_port: Port
    controller_manager_port: Port
    scheduler_port: Port
    kubelet_port: Port
    kubelet_healthz_port: Port
    git_port: Port
    start_timeout: float

    @property
    def pid_dir(self) -> Path:
        return self.state_dir / "pids"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pki_dir(self) -> Path:
        return self.state_dir / "pki"

    @property
    def node_dir(self) -> Path:
        """The real node's containerd, CNI and kubelet state; emptied of mounts and processes by `down`."""
        return self.state_dir / "node"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def component_kubeconfig_dir(self) -> Path:
        return self.state_dir / "kubeconfigs"

    @property
    def registry_address(self) -> str:
        return f"127.0.0.1:{self.registry_port.number}"

    @property
    def apiserver_url(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port.number}"

    def pid_file(self, component: str) -> Path:
        return self.pid_dir / f"{component}.pid"

    def log_file(self, component: str) -> Path:
        return self.log_dir / f"{component}.log"


def load() -> Settings:
    state_dir = Path(os.environ.get("GITOPS_STATE_DIR") or REPO_DIR / ".state").resolve()
    tools_cache = Path(
        os.environ.get("GITOPS_TOOLS_CACHE") or Path.home() / ".cache" / "gitops-tools"
    )
    return Settings(
        state_dir=state_dir,
        tools_cache=tools_cache,
        registry_port=_port("LOCALENV_REGISTRY_PORT", 5050),
        kine_port=_port("LOCALENV_KINE_PORT", 12379),
        apiserver_port=_port("LOCALENV_APISERVER_PORT", 16443),
        controller_manager_port=_port("LOCALENV_CONTROLLER_MANAGER_PORT", 16257),
        scheduler_port=_port("LOCALENV_SCHEDULER_PORT", 16259),
        kubelet_port=_port("LOCALENV_KUBELET_PORT", 10250),
        kubelet_healthz_port=_port("LOCALENV_KUBELET_HEALTHZ_PORT", 10248),
        git_port=_port("LOCALENV_GIT_PORT", 19418),
        start_timeout=float(os.environ.get("LOCALENV_START_TIMEOUT", 90)),
    )
