"""Kubeconfig files: the admin's for people and Pulumi, one per component.

Certificates are embedded, so a kubeconfig stays valid when copied elsewhere.
"""

import base64
from pathlib import Path

from .certs import Pki

CONTEXT = "gitops-local"

TEMPLATE = """\
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: {server}
    certificate-authority-data: {ca}
contexts:
- name: {context}
  context: {{cluster: local, user: {user}}}
current-context: {context}
users:
- name: {user}
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
"""


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write(path: Path, server: str, pki: Pki, client: str, user: str) -> Path:
    """Write a kubeconfig for PKI's client certificate CLIENT, as user USER."""
    text = TEMPLATE.format(
        server=server,
        ca=_b64(pki.ca_cert),
        context=CONTEXT,
        user=user,
        cert=_b64(pki.cert(client)),
        key=_b64(pki.key(client)),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(0o600)
        tmp.replace(path)
    return path
