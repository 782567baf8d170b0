"""The server-side dry-run against a stand-in API server over real TLS, with kubeconfigs as kubectl reads them."""

from __future__ import annotations

import base64
import json
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from localenv.certs import ensure_pki
from manifest_loader import kube_client, load_manifests, render_objects
from manifest_loader.kube_client import KubeClient, KubeconfigError
from manifest_loader.server_dry_run import server_dry_run
from tests.manifest_loader.fake_api_server import FakeApiServer, status_body

APPLY_QUERY = {"dryRun": ["All"], "fieldManager": ["pulumi-gitops-dry-run"], "force": ["true"]}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return ensure_pki(tmp_path_factory.mktemp("pki"))


def kubeconfig(server: str, cluster: dict, user: dict) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "local",
            "clusters": [{"name": "k", "cluster": {"server": server, **cluster}}],
            "contexts": [{"name": "local", "context": {"cluster": "k", "user": "u"}}],
            "users": [{"name": "u", "user": user}],
        }
    )


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@pytest.fixture
def api(pki):
    with FakeApiServer(pki) as server:
        yield server


@pytest.fixture
def client(api, pki):
    return KubeClient(kubeconfig(api.url, {"certificate-authority-data": b64(pki.ca_cert)}, {"token": "t0ken"}))


def dry_run(work_tree, client, files: dict[str, str], secrets=None):
    for path, text in files.items():
        work_tree.write(path, text)
    work_tree.commit()
    loaded = load_manifests(work_tree.root, "manifests", secret_names=(secrets or {}).keys())
    return server_dry_run(client, loaded.objects, render_objects(loaded.objects, {}, secrets))


DEPLOYMENT = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: default}
    spec:
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: web, image: nginx}]}
    """


def test_each_object_is_sent_as_a_server_side_apply_dry_run_to_its_resource_path(work_tree, api, client):
    result = dry_run(
        work_tree,
        client,
        {
            "manifests/a.yaml": work_tree.config_map("a", "default"),
            "manifests/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n",
            "manifests/web.yaml": DEPLOYMENT,
        },
    )

    assert (result.reachable, result.problems, result.checked) == (True, [], 3)
    sent = {request.path: request for request in api.patches()}
    assert set(sent) == {"/api/v1/namespaces/default/configmaps/a", "/api/v1/namespaces/default", "/apis/apps/v1/namespaces/default/deployments/web"}
    for request in sent.values():
        assert request.query == APPLY_QUERY
        assert request.headers["Content-Type"] == "application/apply-patch+yaml"
        assert request.headers["Authorization"] == "Bearer t0ken"
    assert json.loads(sent["/api/v1/namespaces/default/configmaps/a"].body)["data"] == {"key": "x"}


@pytest.mark.parametrize(
    ("status", "answer", "words"),
    [
        (403, status_body(403, "Forbidden", 'configmaps "a" is forbidden: exceeded quota: small, requested: count/configmaps=1'), "HTTP 403 Forbidden): configmaps \"a\" is forbidden: exceeded quota"),
        (409, status_body(409, "Conflict", "Apply failed with 1 conflict: conflict with \"kubectl\": .data.key"), "HTTP 409 Conflict): Apply failed with 1 conflict"),
        (422, status_body(422, "Invalid", 'ConfigMap "a" is invalid: metadata.labels: Invalid value: "-x-"', [{"field": "metadata.labels"}]), "HTTP 422 Invalid): ConfigMap \"a\" is invalid: metadata.labels"),
        (500, "etcdserver: request timed out", "HTTP 500 ): etcdserver: request timed out"),
    ],
)
def test_a_refused_object_is_reported_with_its_file_its_name_and_the_api_servers_words(work_tree, api, client, status, answer, words):
    api.refuse("a", status, answer)

    result = dry_run(work_tree, client, {"manifests/a.yaml": work_tree.config_map("a", "default"), "manifests/b.yaml": work_tree.config_map("b", "default")})

    assert result.checked == 2
    assert len(result.problems) == 1
    message = str(result.problems[0])
    assert message.startswith("manifests/a.yaml")
    assert "ConfigMap/a" in message
    assert words in message


def test_an_immutable_field_the_provider_replaces_the_object_for_is_let_through_as_a_replacement(work_tree, api, client):
    api.refuse("web", 422, status_body(422, "Invalid", 'Deployment.apps "web" is invalid: spec.selector: Invalid value: field is immutable', [{"field": "spec.selector"}]))

    result = dry_run(work_tree, client, {"manifests/web.yaml": DEPLOYMENT})

    assert result.problems == []
    assert result.replaced == ["manifests/web.yaml#0 Deployment/web: spec.selector"]


def test_an_immutable_field_the_provider_does_not_replace_for_is_refused(work_tree, api, client):
    api.refuse("web", 422, status_body(422, "Invalid", 'Deployment.apps "web" is invalid: spec.replicas: Invalid value', [{"field": "spec.replicas"}]))

    result = dry_run(work_tree, client, {"manifests/web.yaml": DEPLOYMENT})

    assert result.replaced == []
    assert ["spec.replicas: Invalid value" in str(problem) for problem in result.problems] == [True]


def test_a_refusal_other_than_invalid_is_reported_even_when_it_names_a_field_the_provider_replaces_on(work_tree, api, client):
    denial = 'admission webhook "deny.example.com" denied the request: spec.selector may not change'
    api.refuse("web", 403, status_body(403, "Forbidden", denial, [{"field": "spec.selector"}]))

    result = dry_run(work_tree, client, {"manifests/web.yaml": DEPLOYMENT})

    assert result.replaced == []
    assert [denial in str(problem) for problem in result.problems] == [True]


def test_objects_in_a_namespace_the_commit_adds_are_skipped_with_a_note_and_the_namespace_is_dry_run(work_tree, api, client):
    result = dry_run(
        work_tree,
        client,
        {"manifests/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n", "manifests/a.yaml": work_tree.config_map("a", "shop")},
    )

    assert result.problems == []
    assert result.skipped == ["manifests/a.yaml#0 ConfigMap/a: its namespace shop comes with this commit"]
    assert [request.path for request in api.patches()] == ["/api/v1/namespaces/shop"]


def test_objects_in_a_namespace_the_cluster_already_has_are_dry_run_even_when_the_commit_declares_it(work_tree, api, client):
    api.namespaces.add("shop")

    result = dry_run(
        work_tree,
        client,
        {"manifests/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n", "manifests/a.yaml": work_tree.config_map("a", "shop")},
    )

    assert (result.skipped, result.checked) == ([], 2)
    assert "/api/v1/namespaces/shop/configmaps/a" in [request.path for request in api.patches()]


CRD = """\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: widgets.example.com}
    spec:
      group: example.com
      scope: Namespaced
      names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
      versions:
      - name: v1
        served: true
        storage: true
        schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    """
WIDGET = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: default}\nspec: {size: 1}\n"


def test_custom_resources_of_a_crd_the_commit_adds_are_skipped_with_a_note(work_tree, api, client):
    result = dry_run(work_tree, client, {"manifests/crd.yaml": CRD, "manifests/widget.yaml": WIDGET})

    assert result.problems == []
    assert result.skipped == ["manifests/widget.yaml#0 Widget/w: its CustomResourceDefinition comes with this commit"]


def test_a_kind_the_cluster_does_not_serve_and_no_crd_adds_is_refused_naming_the_kind(work_tree, api, client):
    result = dry_run(work_tree, client, {"manifests/widget.yaml": WIDGET})

    assert [str(problem) for problem in result.problems] == [
        "manifests/widget.yaml: document 0 (line 1): Widget/w: the cluster does not serve Widget in example.com/v1. Add its CustomResourceDefinition, or fix apiVersion and kind."
    ]
    assert api.patches() == []


def test_a_dry_run_the_server_does_not_answer_in_time_is_reported_and_the_others_still_checked(work_tree, api, client, monkeypatch):
    monkeypatch.setattr(kube_client, "REQUEST_TIMEOUT", 0.5)
    api.hang("a")

    result = dry_run(work_tree, client, {"manifests/a.yaml": work_tree.config_map("a", "default"), "manifests/b.yaml": work_tree.config_map("b", "default")})

    assert result.checked == 2
    assert [str(problem) for problem in result.problems] == [
        "manifests/a.yaml: document 0 (line 1): ConfigMap/a: the API server did not answer its dry-run. Retry when the cluster answers."
    ]


SECRET = """\
    apiVersion: v1
    kind: Secret
    metadata: {name: db, namespace: default}
    stringData: {password: "${secret:db-password}"}
    """


def test_a_secret_value_the_api_server_quotes_in_a_refusal_is_not_repeated(work_tree, api, client):
    value = "hunter2-s3cr3t"
    api.refuse("db", 422, status_body(422, "Invalid", f'Secret "db" is invalid: data[password]: {value} / {base64.b64encode(value.encode()).decode()}'))

    result = dry_run(work_tree, client, {"manifests/db.yaml": SECRET.replace("stringData", "data")}, secrets={"db-password": value})

    message = str(result.problems[0])
    assert "[secret]" in message
    assert value not in message and base64.b64encode(value.encode()).decode() not in message


def test_the_program_sends_stand_ins_so_no_secret_value_goes_over_the_wire(work_tree, api, client, pki, monkeypatch):
    import program  # the program's own dry-run step, with its stand-ins for the stack's secrets
    from components.cluster import ClusterArgs

    value = "hunter2-s3cr3t"
    work_tree.write("manifests/db.yaml", SECRET)
    work_tree.commit()
    loaded = load_manifests(work_tree.root, "manifests", secret_names=["db-password"])
    cluster = ClusterArgs(target="local", local_kubeconfig=kubeconfig(api.url, {"certificate-authority-data": b64(pki.ca_cert)}, {"token": "t"}))
    settings = type("Settings", (), {"cluster": cluster, "secrets": {"db-password": value}})

    program._dry_run_on_cluster(settings, loaded, "registry.local/app:tag")

    [patch] = api.patches()
    assert json.loads(patch.body)["stringData"] == {"password": ""}
    assert value.encode() not in b"".join(request.body for request in api.requests)


def test_client_certificates_from_files_authenticate_to_a_server_that_requires_them(work_tree, pki):
    with FakeApiServer(pki, require_client_cert=True) as api:
        config = kubeconfig(api.url, {"certificate-authority": str(pki.ca_cert)}, {"client-certificate": str(pki.cert("admin")), "client-key": str(pki.key("admin"))})

        result = dry_run(work_tree, KubeClient(config), {"manifests/a.yaml": work_tree.config_map("a", "default")})

    assert (result.reachable, result.checked, result.problems) == (True, 1, [])
    assert "Authorization" not in api.requests[0].headers


def test_without_a_client_certificate_a_server_that_requires_one_is_unreachable(work_tree, pki):
    with FakeApiServer(pki, require_client_cert=True) as api:
        result = dry_run(work_tree, KubeClient(kubeconfig(api.url, {"certificate-authority": str(pki.ca_cert)}, {})), {"manifests/a.yaml": work_tree.config_map("a")})

    assert (result.reachable, result.problems) == (False, [])


def test_inline_client_certificates_and_a_token_file_are_read(work_tree, pki, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("file-token\n")
    with FakeApiServer(pki, require_client_cert=True) as api:
        user = {"client-certificate-data": b64(pki.cert("admin")), "client-key-data": b64(pki.key("admin")), "tokenFile": str(token_file)}
        result = dry_run(work_tree, KubeClient(kubeconfig(api.url, {"certificate-authority-data": b64(pki.ca_cert)}, user)), {"manifests/a.yaml": work_tree.config_map("a")})

    assert (result.reachable, result.checked) == (True, 1)
    assert {request.headers["Authorization"] for request in api.requests} == {"Bearer file-token"}


def exec_plugin(tmp_path: Path, status: dict) -> dict:
    script = tmp_path / "get-token.py"
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": status}
    script.write_text(f"import json, os\nassert os.environ['CLUSTER'] == 'local'\nprint(json.dumps({credential!r}))\n")
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable, "args": [str(script)], "env": [{"name": "CLUSTER", "value": "local"}]}}


def test_an_exec_plugins_token_is_sent(work_tree, api, pki, tmp_path):
    user = exec_plugin(tmp_path, {"token": "from-exec"})

    result = dry_run(work_tree, KubeClient(kubeconfig(api.url, {"certificate-authority-data": b64(pki.ca_cert)}, user)), {"manifests/a.yaml": work_tree.config_map("a")})

    assert result.checked == 1
    assert {request.headers["Authorization"] for request in api.requests} == {"Bearer from-exec"}


def test_an_exec_plugins_client_certificate_is_used(work_tree, pki, tmp_path):
    user = exec_plugin(tmp_path, {"clientCertificateData": pki.cert("admin").read_text(), "clientKeyData": pki.key("admin").read_text()})
    with FakeApiServer(pki, require_client_cert=True) as api:
        result = dry_run(work_tree, KubeClient(kubeconfig(api.url, {"certificate-authority-data": b64(pki.ca_cert)}, user)), {"manifests/a.yaml": work_tree.config_map("a")})

    assert (result.reachable, result.checked) == (True, 1)


def test_an_exec_plugin_that_fails_is_a_kubeconfig_error_naming_it(api, tmp_path):
    user = {"exec": {"command": str(tmp_path / "no-such-plugin")}}

    with pytest.raises(KubeconfigError, match=r"exec plugin '.*no-such-plugin' gave no credential"):
        KubeClient(kubeconfig(api.url, {"insecure-skip-tls-verify": True}, user))


def test_after_a_request_that_timed_out_the_next_one_gets_through_on_a_fresh_connection(api, client, monkeypatch):
    monkeypatch.setattr(kube_client, "REQUEST_TIMEOUT", 0.5)
    api.hang("slow")
    path = "/api/v1/namespaces/default/configmaps/{}?dryRun=All"

    slow = client.request("PATCH", path.format("slow"), {"kind": "ConfigMap"})
    api.release.set()
    next_one = client.request("PATCH", path.format("next"), {"kind": "ConfigMap"})

    assert (slow.status, next_one.status, next_one.body) == (0, 200, {"kind": "ConfigMap"})


def test_a_server_url_with_a_path_prefixes_every_request(api, pki):
    client = KubeClient(kubeconfig(api.url + "/proxy/", {"certificate-authority-data": b64(pki.ca_cert)}, {}))

    assert client.request("GET", "/version").status == 404
    assert api.requests[0].path == "/proxy/version"


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ("clusters: [{cluster: {}}]\n", "the kubeconfig is not valid"),
        (
            textwrap.dedent(
                """\
                current-context: c
                clusters: [{name: k, cluster: {server: "https://127.0.0.1:1"}}]
                contexts: [{name: c, context: {cluster: elsewhere, user: u}}]
                """
            ),
            "the kubeconfig's context 'c' names no known cluster",
        ),
    ],
)
def test_a_kubeconfig_without_a_usable_context_says_which_part(config, problem):
    with pytest.raises(KubeconfigError, match=problem):
        KubeClient(config)
