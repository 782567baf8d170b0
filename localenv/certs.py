"""The control plane's certificates, made with the openssl CLI.

One CA signs the API server's serving certificate and a client certificate
per user. The service-account key pair signs and verifies pod tokens.
Existing files are kept, so clients keep trusting the CA across restarts.
"""

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .settings import REAL_NODE_NAME

CA_SUBJECT = "/CN=gitops-local-ca"
DAYS = 3650

# The API server is reached on loopback by clients, and as the `kubernetes`
# Service (first address of the service range) from inside the cluster.
APISERVER_NAMES = [
    "IP:127.0.0.1",
    "IP:10.96.0.1",
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
]

# Client certificates: file name -> subject. The organisation is the group;
# system:masters is all-powerful, the components have their own built-in roles.
CLIENTS = {
    "admin": "/O=system:masters/CN=gitops-admin",
    "controller-manager": "/CN=system:kube-controller-manager",
    "scheduler": "/CN=system:kube-scheduler",
    # kwok stands in for every kubelet and writes any node's and pod's status.
    "kwok": "/O=system:masters/CN=kwok",
    # The real node's kubelet: the Node authorizer lets it touch only its own node and pods.
    "kubelet": f"/O=system:nodes/CN=system:node:{REAL_NODE_NAME}",
    # The API server's client to the kubelets (logs, exec, port-forward).
    "apiserver-kubelet-client": "/O=system:masters/CN=kube-apiserver-kubelet-client",
}


@dataclass(frozen=True)
class Pki:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def service_account_key(self) -> Path:
        return self.directory / "service-account.key"

    @property
    def service_account_public_key(self) -> Path:
        return self.directory / "service-account.pub"

    def cert(self, name: str) -> Path:
        return self.directory / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.directory / f"{name}.key"


def _openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def _new_key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(path))
    path.chmod(0o600)


def _make_ca(pki: Pki) -> None:
    _new_key(pki.ca_key)
    _openssl(
        "req", "-x509", "-new", "-key", str(pki.ca_key), "-out", str(pki.ca_cert),
        "-days", str(DAYS), "-subj", CA_SUBJECT,
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )


def _make_signed(pki: Pki, name: str, subject: str, extensions: str) -> None:
    _new_key(pki.key(name))
    with tempfile.TemporaryDirectory() as tmp:
        csr = Path(tmp) / "request.csr"
        ext = Path(tmp) / "extensions.cnf"
        ext.write_text(extensions)
        _openssl("req", "-new", "-key", str(pki.key(name)), "-subj", subject, "-out", str(csr))
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(pki.ca_cert), "-CAkey", str(pki.ca_key),
            "-CAcreateserial", "-CAserial", str(Path(tmp) / "ca.srl"),
            "-days", str(DAYS), "-extfile", str(ext), "-out", str(pki.cert(name)),
        )


def _extensions(usage: str, names: list[str] | None = None) -> str:
    lines = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={usage}",
    ]
    if names:
        lines.append("subjectAltName=" + ",".join(names))
    return "\n".join(lines) + "\n"


def ensure_pki(directory: Path) -> Pki:
    """Create whichever certificates and keys are missing in DIRECTORY."""
    pki = Pki(directory)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    new_ca = not (pki.ca_cert.exists() and pki.ca_key.exists())
    if new_ca:
        _make_ca(pki)
    # A new CA invalidates everything the old one signed.
    if new_ca or not pki.cert("apiserver").exists():
        _make_signed(pki, "apiserver", "/CN=kube-apiserver", _extensions("serverAuth", APISERVER_NAMES))
    for name, subject in CLIENTS.items():
        if new_ca or not pki.cert(name).exists():
            _make_signed(pki, name, subject, _extensions("clientAuth"))
    if not pki.service_account_public_key.exists():
        _new_key(pki.service_account_key)
        _openssl("pkey", "-in", str(pki.service_account_key), "-pubout",
                 "-out", str(pki.service_account_public_key))
    return pki
