"""A few calls to the Kubernetes API as the admin user, with the standard library."""

import json
import ssl
import time
import urllib.error
import urllib.request

from .certs import Pki
from .errors import LocalEnvError
from .settings import Settings

TIMEOUT = 5


class KubeApi:
    def __init__(self, settings: Settings, pki: Pki):
        self.base_url = settings.apiserver_url
        self.context = ssl.create_default_context(cafile=str(pki.ca_cert))
        self.context.load_cert_chain(str(pki.cert("admin")), str(pki.key("admin")))

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
        """(status, body text); status 0 when the server does not answer."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=TIMEOUT) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")
        except OSError as error:
            return 0, str(error)

    def get_json(self, path: str) -> dict | None:
        status, text = self.request("GET", path)
        return json.loads(text) if status == 200 else None

    def is_ready(self) -> bool:
        status, text = self.request("GET", "/readyz")
        return status == 200 and text.strip() == "ok"

    def node_is_ready(self, name: str) -> bool:
        node = self.get_json(f"/api/v1/nodes/{name}") or {}
        conditions = node.get("status", {}).get("conditions", [])
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def wait_node_ready(settings: Settings, pki: Pki, name: str, component: str) -> None:
    """Wait until node NAME is Ready; on time-out, point at COMPONENT's log."""
    api = KubeApi(settings, pki)
    deadline = time.monotonic() + settings.start_timeout
    while not api.node_is_ready(name):
        if time.monotonic() > deadline:
            raise LocalEnvError(
                f"node {name} was not Ready after {settings.start_timeout:.0f}s; "
                f"see {settings.log_file(component)}"
            )
        time.sleep(0.5)
