"""The image build daemon: a buildkitd that docker-build reaches as a buildx "remote" builder.

The docker-build provider links no driver for dockerd's own BuildKit, and its
default docker-container builder would pull moby/buildkit from Docker Hub,
which cannot be reached here. So the environment runs buildkitd itself and
registers it, under BUILDER_NAME, in a buildx config folder of its own
(exported as BUILDX_CONFIG), leaving the user's ~/.docker alone.
"""

import json
from pathlib import Path

from . import binaries, ports
from .service import Service
from .settings import Settings

NAME = "buildkitd"
BUILDER_NAME = "gitops-local"


def buildkit_dir(settings: Settings) -> Path:
    return settings.state_dir / "buildkit"


def socket_path(settings: Settings) -> Path:
    return buildkit_dir(settings) / "buildkitd.sock"


def buildx_config_dir(settings: Settings) -> Path:
    return settings.state_dir / "buildx"


def builder_instance(socket: Path | str) -> dict:
    """buildx's record of a "remote" builder named BUILDER_NAME that reaches buildkitd at SOCKET."""
    return {
        "Name": BUILDER_NAME,
        "Driver": "remote",
        "Nodes": [{
            "Name": f"{BUILDER_NAME}0",
            "Endpoint": f"unix://{socket}",
            "Platforms": None, "DriverOpts": None, "Flags": None, "Files": None,
        }],
        "Dynamic": False,
    }


def register_builder(settings: Settings) -> Path:
    """Writes the buildx instance that points at our buildkitd; returns the buildx config folder."""
    instance = builder_instance(socket_path(settings))
    instances = buildx_config_dir(settings) / "instances"
    instances.mkdir(parents=True, exist_ok=True)
    (instances / BUILDER_NAME).write_text(json.dumps(instance))
    return buildx_config_dir(settings)


def is_serving(settings: Settings) -> bool:
    return ports.unix_socket_accepts(socket_path(settings))


def service(settings: Settings) -> Service:
    def argv() -> list[str]:
        program = binaries.find("buildkitd", settings)
        buildkit_dir(settings).mkdir(parents=True, exist_ok=True)
        socket_path(settings).unlink(missing_ok=True)  # a crashed daemon leaves it behind
        register_builder(settings)
        return [program, "--root", str(buildkit_dir(settings) / "root"),
                "--addr", f"unix://{socket_path(settings)}"]

    return Service(NAME, argv, lambda: is_serving(settings))
