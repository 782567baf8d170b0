"""Kubeconfig files: the admin's for people and Pulumi, one per component.

Certificates are embedded, so a kubeconfig stays valid when copied elsewhere.
"""

import base64
import os
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
        tmp.unlink(missing_ok=True)  # left by a crash; O_EXCL below makes sure the file is new and ours
        # The admin's client key is in it: owner-only from the moment it exists, whatever the umask.
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(text)
        tmp.replace(path)
    return path
