"""The generated certificates form a chain openssl accepts, for the right names."""

import subprocess

import pytest

from localenv import certs


def openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return certs.ensure_pki(tmp_path_factory.mktemp("pki"))


def test_every_certificate_verifies_against_the_ca(pki):
    names = ["apiserver", *certs.CLIENTS]
    result = openssl("verify", "-CAfile", str(pki.ca_cert), *[str(pki.cert(n)) for n in names])

    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": OK") == len(names)


def test_serving_certificate_is_for_loopback_and_server_auth(pki):
    result = openssl("verify", "-CAfile", str(pki.ca_cert), "-purpose", "sslserver",
                     "-verify_ip", "127.0.0.1", "-verify_hostname", "localhost",
                     str(pki.cert("apiserver")))
    assert result.returncode == 0, result.stderr


def test_admin_is_in_system_masters_and_a_client_only(pki):
    subject = openssl("x509", "-in", str(pki.cert("admin")), "-noout", "-subject").stdout
    assert "O = system:masters" in subject
    as_server = openssl("verify", "-CAfile", str(pki.ca_cert), "-purpose", "sslserver",
                        str(pki.cert("admin")))
    assert as_server.returncode != 0


def test_service_account_public_key_matches_private_key(pki):
    derived = openssl("pkey", "-in", str(pki.service_account_key), "-pubout").stdout
    assert derived == pki.service_account_public_key.read_text()


def test_existing_files_are_kept_and_a_new_ca_resigns_everything(tmp_path):
    pki = certs.ensure_pki(tmp_path)
    before = pki.cert("admin").read_bytes()
    certs.ensure_pki(tmp_path)
    assert pki.cert("admin").read_bytes() == before

    pki.ca_key.unlink()
    certs.ensure_pki(tmp_path)
    assert pki.cert("admin").read_bytes() != before
    result = openssl("verify", "-CAfile", str(pki.ca_cert), str(pki.cert("admin")))
    assert result.returncode == 0, result.stderr
