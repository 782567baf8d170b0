"""A real S3 API server on this machine (moto's server, pinned in requirements.txt) for the Pulumi backend tests."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import boto3

from testsupport.reconciler_testing import free_port, wait_for

# Any key pair works: the server checks none, but the AWS SDKs refuse to sign without one.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test-key-id", "AWS_SECRET_ACCESS_KEY": "test-secret-key", "AWS_REGION": "us-east-1"}


@contextlib.contextmanager
def s3_server(log: Path) -> Iterator[str]:
    """Runs the server on a free port; yields its endpoint URL."""
    port = free_port()
    server_cli = Path(sys.executable).parent / "moto_server"
    with open(log, "wb") as output:
        server = subprocess.Popen([str(server_cli), "-H", "127.0.0.1", "-p", str(port)], stdout=output, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(endpoint), 60, "the S3 server to answer")
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)


def bucket(endpoint: str, name: str) -> Any:
    s3 = boto3.resource("s3", endpoint_url=endpoint, region_name=CREDENTIALS["AWS_REGION"],
                        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    created = s3.Bucket(name)
    created.create()
    return created


def backend_url(endpoint: str, bucket_name: str) -> str:
    """Pulumi's diy backend on this server: path-style requests over plain HTTP."""
    return f"s3://{bucket_name}?endpoint={endpoint}&s3ForcePathStyle=true&disableSSL=true&region={CREDENTIALS['AWS_REGION']}"


def _answers(endpoint: str) -> bool:
    host, port = endpoint.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return True
    except OSError:
        return False
