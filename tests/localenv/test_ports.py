"""A port held by another program is named, with its holder, before starting."""

import os
import socket

import pytest

from localenv import ports
from localenv.errors import PortInUse
from localenv.settings import Port


@pytest.fixture
def listening_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


def test_bound_port_is_reported_with_component_and_holder(listening_socket):
    number = listening_socket.getsockname()[1]

    assert not ports.is_free(number)
    with pytest.raises(PortInUse) as raised:
        ports.ensure_free(Port(number, "LOCALENV_APISERVER_PORT"), "kube-apiserver")

    message = str(raised.value)
    assert f"port {number} for kube-apiserver" in message
    assert f"pid {os.getpid()}" in message
    assert "LOCALENV_APISERVER_PORT" in message


def test_port_is_free_again_once_closed(listening_socket):
    number = listening_socket.getsockname()[1]
    listening_socket.close()

    assert ports.is_free(number)
    ports.ensure_free(Port(number, "X"), "kube-apiserver")


def test_accepts_connections_only_while_listening(listening_socket):
    number = listening_socket.getsockname()[1]
    assert ports.accepts_connections(number)
    listening_socket.close()
    assert not ports.accepts_connections(number)
