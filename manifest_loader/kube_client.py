"""Just enough of a Kubernetes client for a dry-run: a kubeconfig context's server and credentials, and JSON calls.

The standard library, not a client package: the dry-run runs in every
program run, and importing the official client alone (0.4 s) would cost more
than the whole budget the reconciler has over a direct `pulumi up` (5 % of
2.5 s). Credentials a kubeconfig can hold: client certificates (inline or
files), a bearer token (inline or file), and an exec plugin (EKS' `aws eks
get-token`), which is run once.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import subprocess
import tempfile
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any, Optional

import yaml

CONNECT_TIMEOUT = 2.0  # a cluster that does not answer this fast is treated as unreachable
REQUEST_TIMEOUT = 15.0


class KubeconfigError(ValueError):
    """The kubeconfig cannot be used: the message says which part."""


@dataclass(frozen=True)
class Response:
    status: int  # 0 when the server did not answer
    body: Any  # the JSON document, or the text when it is not JSON


class KubeClient:
    """JSON requests to one API server; one connection per thread, so calls can run in parallel."""

    def __init__(self, kubeconfig: str, context: Optional[str] = None) -> None:
        cluster, user = _context(kubeconfig, context)
        server = urllib.parse.urlsplit(cluster.get("server", ""))
        if server.scheme not in ("http", "https") or not server.hostname:
            raise KubeconfigError(f"the cluster's server {cluster.get('server')!r} is not an http(s) URL")
        self._host, self._port, self._https = server.hostname, server.port, server.scheme == "https"
        self._prefix = server.path.rstrip("/")
        try:
            self._ssl = _ssl_context(cluster, user) if self._https else None
        except (ssl.SSLError, ValueError, OSError) as error:
            raise KubeconfigError(f"the kubeconfig's certificates cannot be used ({error})") from None
        self._headers = {"Accept": "application/json"}
        token = _token(user)
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._local = threading.local()

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Response:
        headers = dict(self._headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        try:
            connection = self._connection()
            connection.request(method, self._prefix + path, body=data, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            self._local.connection = None
            return Response(0, None)
        try:
            return Response(response.status, json.loads(text))
        except ValueError:
            return Response(response.status, text)

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            if self._https:
                connection = http.client.HTTPSConnection(self._host, self._port, timeout=CONNECT_TIMEOUT, context=self._ssl)
            else:
                connection = http.client.HTTPConnection(self._host, self._port, timeout=CONNECT_TIMEOUT)
            connection.connect()
            connection.sock.settimeout(REQUEST_TIMEOUT)
            self._local.connection = connection
        return connection


def _context(kubeconfig: str, name: Optional[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        config = yaml.safe_load(kubeconfig) or {}
        contexts = {c["name"]: c["context"] for c in config.get("contexts") or []}
        clusters = {c["name"]: c["cluster"] for c in config.get("clusters") or []}
        users = {u["name"]: u.get("user") or {} for u in config.get("users") or []}
    except (yaml.YAMLError, AttributeError, KeyError, TypeError):
        raise KubeconfigError("the kubeconfig is not valid") from None
    name = name or config.get("current-context")
    if name not in contexts:
        raise KubeconfigError(f"the kubeconfig has no context {name!r}")
    context = contexts[name]
    if context.get("cluster") not in clusters:
        raise KubeconfigError(f"the kubeconfig's context {name!r} names no known cluster")
    return clusters[context["cluster"]], users.get(context.get("user"), {})


def _ssl_context(cluster: dict[str, Any], user: dict[str, Any]) -> ssl.SSLContext:
    if cluster.get("insecure-skip-tls-verify"):
        context = ssl.create_default_context()  # the kubeconfig asks for no verification; kubectl honours it too
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif cluster.get("certificate-authority-data"):
        context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    else:
        context = ssl.create_default_context(cafile=cluster.get("certificate-authority"))
    credentials = _exec_credentials(user) if user.get("exec") else {}
    certificate = _pem(user, "client-certificate") or credentials.get("clientCertificateData")
    key = _pem(user, "client-key") or credentials.get("clientKeyData")
    if certificate and key:
        # load_cert_chain reads files only; these live for the duration of the call, readable by this user only.
        with tempfile.TemporaryDirectory() as folder:
            paths = [os.path.join(folder, name) for name in ("cert.pem", "key.pem")]
            for path, pem in zip(paths, (certificate, key)):
                with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as file:
                    file.write(pem)
            context.load_cert_chain(*paths)
    return context


def _pem(user: dict[str, Any], field: str) -> Optional[str]:
    if user.get(f"{field}-data"):
        return base64.b64decode(user[f"{field}-data"]).decode()
    if user.get(field):
        with open(user[field]) as file:
            return file.read()
    return None


def _token(user: dict[str, Any]) -> Optional[str]:
    if user.get("token"):
        return user["token"]
    if user.get("tokenFile"):
        with open(user["tokenFile"]) as file:
            return file.read().strip()
    if user.get("exec"):
        return _exec_credentials(user).get("token")
    return None


_exec_cache: dict[str, dict[str, Any]] = {}


def _exec_credentials(user: dict[str, Any]) -> dict[str, Any]:
    """The status of the exec plugin's ExecCredential; run once per command line."""
    spec = user["exec"]
    command = [spec["command"], *(spec.get("args") or [])]
    key = json.dumps(command)
    if key not in _exec_cache:
        env = {**os.environ, **{item["name"]: item["value"] for item in spec.get("env") or []}}
        try:
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30, check=True)
            _exec_cache[key] = json.loads(result.stdout).get("status") or {}
        except (OSError, subprocess.SubprocessError, ValueError) as error:
            raise KubeconfigError(f"the kubeconfig's exec plugin {spec['command']!r} gave no credential ({type(error).__name__})") from None
    return _exec_cache[key]
