"""The reconciler as a workload, on the real node: with `reconcilerImage` on, one pass of this machine's
reconciler (`once`, what `make up` runs) builds its image and deploys three replicas; from then on they
keep the cluster at Git. A commit to main is
applied by the replica holding the stack's Lease (its /status, read through the API server, and the
object on the API server say so), and a replica deleted mid-update hands the stack over: the update
converges and no two runs of the stack overlap, by the replicas' run records and the backend's history.

The service repository is served by localenv's Git host (localenv/git_server.py); its backend and
passphrase live in a folder of its own on the node's volume, which this machine's `up` (root) and the pods
(user 65532, their own pid namespaces) share. Its reconciler runs under names of its own
(testsupport/in_cluster_names.py), beside the one `make up` deploys in gitops-system, which it leaves alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
import yaml

from localenv import git_server
from localenv.reconciler_node import STATE_VOLUME
from localenv.settings import load
from reconciler.status.store import StatusStore
from testsupport.lease_namespaces import holders
from testsupport.local_project import PROJECT_DIR, LocalProject
from testsupport.reconciler_testing import stack_locks
from testsupport.replica_fleet import overlapping

pytestmark = pytest.mark.e2e

# What the image is built from, beside the program: the reconciler's code, its Dockerfile and manifests,
# and the tool versions its tag follows.
RECONCILER_FILES = ("reconciler", "deploy", "tools/versions.env")
# Where the pods mount the node's volume (deploy/reconciler/deployment.yaml).
POD_VOLUME = "/var/lib/reconciler"
REPLICAS = 3
# The replicas share the node's network: each takes the first free port from 8099, after `make up`'s own.
PORTS = range(8099, 8099 + 10)
POLL_S = 1.0


@dataclasses.dataclass
class InCluster:
    project: LocalProject
    folder: Path  # this test's backend and passphrase, on the node's volume
    namespace: str  # its reconciler's, of its own

    def pods(self) -> list[dict[str, Any]]:
        found = self.project.kubectl("get", "pods", "--namespace", self.namespace, "--selector",
                                     "app.kubernetes.io/name=reconciler", "--output", "json")
        assert found.returncode == 0, found.stderr
        return [pod for pod in json.loads(found.stdout)["items"] if pod["metadata"].get("deletionTimestamp") is None]

    def ready_pods(self) -> list[str]:
        return [pod["metadata"]["name"] for pod in self.pods()
                if any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))]

    def raw(self, pod: str, port: int, path: str) -> Optional[str]:
        got = self.project.kubectl("get", "--raw", f"/api/v1/namespaces/{self.namespace}/pods/{pod}:{port}/proxy{path}")
        return got.stdout if got.returncode == 0 else None

    def ports(self) -> dict[str, int]:
        """Each replica's port on the node's network, by asking each port who answers (its replica id). Every pod
        on the node's network answers for every port: one of `make up`'s replicas may answer, and is left out."""
        found = {}
        names = self.ready_pods()
        for port in PORTS:
            for pod in names:
                body = self.raw(pod, port, "/status")
                if body is not None:
                    replica = json.loads(body)["coordination"]["replica"]
                    if replica in names:
                        found[replica] = port
                    break
        return found

    def holder(self) -> str:
        return holders(Path(self.project.local_env["KUBECONFIG"]), self.namespace).get("local", ("", 0))[0]

    def stack_status(self, replica: str) -> Optional[dict[str, Any]]:
        port = self.ports().get(replica)
        body = self.raw(replica, port, "/status") if port else None
        if body is None:
            return None
        return next(entry for entry in json.loads(body)["stacks"] if entry["stack"] == "local")

    def applied_by_holder(self, commit: str) -> Optional[str]:
        """The replica holding the stack, once it has applied COMMIT."""
        holder = self.holder()
        status = self.stack_status(holder) if holder in self.ready_pods() else None
        return holder if status and status["last_applied_commit"] == commit else None

    def runs(self, replicas: list[str], died: dict[str, float]) -> list[tuple[float, float, str]]:
        """Every run of the stack in these replicas' status stores, on the node's volume; an open run of a
        dead replica ends at its death."""
        spans = []
        for replica in replicas:
            database = STATE_VOLUME / "replicas" / replica / "status.sqlite"
            if not database.exists():
                continue
            store = StatusStore(database, read_only=True)
            try:
                for row in store.runs(limit=100_000):
                    if row["stack"] == "local":
                        spans.append((row["started_at"], row["finished_at"] or died.get(replica, time.time()), replica))
            finally:
                store.close()
        return spans

    def history(self) -> list[dict[str, Any]]:
        result = self.project.pulumi("stack", "history", "--stack", "local", "--json")
        assert result.returncode == 0, result.output
        return json.loads(result.output[result.output.index("["):])


def wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(POLL_S)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def reconcile_once_from_this_machine(cluster: InCluster) -> subprocess.CompletedProcess:
    """`reconciler once` over the project, as `make up` runs it (reconciler.local.yaml): its own checkout
    and state, the node's backend. The checkout's files are the same as the pods' (both under the
    reconciler's umask), so docker-build hashes the same build contexts and neither side rebuilds."""
    project = cluster.project
    config = project.root.parent / "host-reconciler.yaml"
    config.write_text(yaml.safe_dump({
        "state_dir": str(project.root.parent / "host-reconciler"),
        "stacks": [{
            "name": "local", "repo": {"url": str(project.root)}, "branch": "main", "stack": "local",
            "backend_url": f"file://{cluster.folder}/backend",
            "secrets_passphrase": {"file": str(cluster.folder / "passphrase")},
            "virtualenv": str(PROJECT_DIR / ".venv"),
            "config": {"pulumi-gitops:kubeconfig": {"path": project.local_env["KUBECONFIG"]}},
        }],
    }, sort_keys=False))
    return subprocess.run([sys.executable, "-m", "reconciler", "once", "--config", str(config), "--json"],
                          cwd=PROJECT_DIR, env=project.env(), capture_output=True, text=True, timeout=1800)


def clear_leftovers(project: LocalProject, folder: Path) -> None:
    """A run that died before its teardown (or whose destroy failed) left its objects and backend folder under
    the same names: pytest numbers its folders alike in every run. Gone first, or this run could not start."""
    if not folder.exists():
        return
    for namespace in (project.namespace, project.reconciler_namespace):
        project.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=300s")
    project.kubectl("delete", "persistentvolume", f"{project.reconciler_namespace}-state", "--ignore-not-found")
    project.kubectl("delete", "clusterrolebinding", project.reconciler_namespace, "--ignore-not-found")
    shutil.rmtree(folder)


def serve_from_the_node(project: LocalProject, url: str, folder: str) -> None:
    """The copy's ConfigMap names this repository, this test's backend folder, and short Lease and retry times."""
    path = project.root / "deploy" / "reconciler" / "configmap.yaml"
    document = yaml.safe_load(path.read_text())
    config = yaml.safe_load(document["data"]["reconciler.yaml"])
    [stack] = config["stacks"]
    stack.update(repo={"url": url}, backend_url=f"file://{folder}/backend", resync_interval="5s",
                 secrets_passphrase={"file": f"{folder}/passphrase"})
    config["coordination"].update(lease_duration="10s", renew_every="2s")
    config["retry"] = {"concurrent_delay": "2s", "unreachable_delay": "2s", "backoff_base": "2s"}
    document["data"]["reconciler.yaml"] = yaml.safe_dump(config, sort_keys=False)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture(scope="module")
def cluster(local_env, tmp_path_factory):
    project = LocalProject.create(tmp_path_factory.mktemp("in-cluster") / "service", local_env, RECONCILER_FILES,
                                  in_cluster=True)
    own = f"e2e/{project.namespace}"
    folder = STATE_VOLUME / own
    clear_leftovers(project, folder)
    (folder / "backend").mkdir(parents=True)
    (folder / "passphrase").write_text(project.env()["PULUMI_CONFIG_PASSPHRASE"])
    project.backend_dir = folder / "backend"
    initialised = project.pulumi("stack", "init", "local")
    assert initialised.returncode == 0, initialised.output
    settings = dataclasses.replace(load(), state_dir=Path(local_env["GITOPS_STATE_DIR"]))
    url = git_server.serve_repository(settings, project.namespace, project.root)
    serve_from_the_node(project, url, f"{POD_VOLUME}/{own}")
    project.commit("run the reconciler in the cluster, from this repository")
    cluster = InCluster(project, folder, project.reconciler_namespace)
    yield cluster
    # The replicas stop first (SIGTERM: they finish their passes), so none applies again after this machine's
    # run: the state's Kubernetes provider holds the kubeconfig of the last run, the pods' (their token's file),
    # and this machine's once puts its own back for the destroy. (Once before the scale, a replica's later pass
    # put the pods' back and the destroy found no cluster.)
    project.kubectl("scale", "deployment", "reconciler", "--namespace", cluster.namespace, "--replicas", "0")
    project.kubectl("wait", "--for", "delete", "pods", "--namespace", cluster.namespace, "--selector",
                    "app.kubernetes.io/name=reconciler", "--timeout", "180s")
    reconciled = reconcile_once_from_this_machine(cluster)
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr[-5000:]
    destroyed = project.destroy()
    git_server.withdraw_repository(settings, project.namespace)
    assert destroyed.returncode == 0, destroyed.output
    shutil.rmtree(folder)
    if not any(folder.parent.iterdir()):
        folder.parent.rmdir()


def test_up_builds_the_image_and_the_replicas_become_ready_on_the_real_node(cluster):
    began = time.monotonic()
    result = reconcile_once_from_this_machine(cluster)
    print(f"bootstrap once (both images built and pushed, 3 replicas rolled out): {time.monotonic() - began:.1f}s")
    assert result.returncode == 0, result.stdout + result.stderr[-5000:]
    assert json.loads(result.stdout.splitlines()[-1])["result"] == "applied"
    image_ref = cluster.project.outputs()["reconcilerImageRef"]

    wait(lambda: len(cluster.ready_pods()) == REPLICAS, 300, f"{REPLICAS} Ready replicas")
    pods = cluster.pods()
    assert {pod["spec"]["nodeName"] for pod in pods} == {"gitops-node-0"}
    assert {pod["spec"]["containers"][0]["image"] for pod in pods} == {image_ref}
    assert image_ref.startswith(f"{cluster.project.local_env['GITOPS_REGISTRY']}/demo-reconciler@sha256:")


def test_the_replicas_run_as_user_65532_in_pid_namespaces_of_their_own_with_a_read_only_root(cluster):
    host_pids = os.readlink("/proc/self/ns/pid")
    # The replica is the container's pid 1 (start_replica.py execs it); its USER is what its pulumi writes in locks.
    probe = ("import os; user = dict(v.split('=', 1) for v in open('/proc/1/environ').read().split('\\0') if v)['USER']; "
             "print(os.getuid(), os.getgid(), os.readlink('/proc/self/ns/pid'), user); open('/probe', 'w')")
    for pod in cluster.ready_pods():
        ran = cluster.project.kubectl("exec", pod, "--namespace", cluster.namespace, "--", "python", "-c", probe)
        uid, gid, pid_namespace, user = ran.stdout.split()
        assert (uid, gid, user) == ("65532", "65532", pod)
        assert pid_namespace != host_pids
        assert "Read-only file system: '/probe'" in ran.stderr


def test_each_replica_answers_on_a_port_of_its_own_through_the_api_server(cluster):
    ports = wait(lambda: (found := cluster.ports()) and len(found) == REPLICAS and found, 120,
                 "every replica's /status")

    assert sorted(ports) == sorted(cluster.ready_pods())
    assert len(set(ports.values())) == REPLICAS and set(ports.values()) <= set(PORTS)
    for replica, port in ports.items():
        assert cluster.raw(replica, port, "/healthz") == "ok\n"
        assert cluster.raw(replica, port, "/readyz") == "ok\n"


def test_a_commit_to_main_is_applied_by_the_replica_holding_the_stack(cluster):
    project = cluster.project
    bootstrap = project.repo.head.commit.hexsha
    # The replicas have no record of the bootstrap's apply: the holder applies the head itself first.
    wait(lambda: cluster.applied_by_holder(bootstrap), 600, "the holder's own apply of the bootstrap commit")

    project.write("manifests/in-cluster.yaml",
                  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied-in-cluster\ndata:\n  by: reconciler\n")
    commit = project.commit("a ConfigMap applied by the reconciler in the cluster")

    holder = wait(lambda: cluster.applied_by_holder(commit), 300, "the holder's apply of the new commit")
    status = cluster.stack_status(holder)
    assert status["ready"] is True and status["last_run"]["commit"] == commit
    assert project.get("configmap", "applied-in-cluster")["data"] == {"by": "reconciler"}
    [latest, *_] = cluster.history()
    assert latest["result"] == "succeeded" and latest["environment"]["git.head"] == commit


def test_a_replica_deleted_mid_update_hands_the_stack_over_and_no_run_overlaps(cluster):
    project = cluster.project
    replicas_seen = set(cluster.ready_pods())
    # A slow update: the app's new pods turn Ready only after 40 s, and the apply waits for the rollout.
    deployment_file = project.root / "manifests" / "deployment.yaml"
    deployment = yaml.safe_load(deployment_file.read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["initialDelaySeconds"] = 40
    deployment_file.write_text(yaml.safe_dump(deployment, sort_keys=False))
    slow = project.commit("a slow update: the app's pods Ready after 40 s")

    victim = wait(lambda: stack_locks(project.backend_dir) and cluster.holder(), 300, "an update holding the stack's lock")
    # Its lock names the pod as its user (start_replica.py): the others judge it by the pod's heartbeat, not its pid.
    assert {json.loads(lock.read_text())["username"] for lock in stack_locks(project.backend_dir)} == {victim}
    deleted = project.kubectl("delete", "pod", victim, "--namespace", cluster.namespace, "--grace-period", "0", "--force")
    killed_at = time.time()
    assert deleted.returncode == 0, deleted.stderr

    successor = wait(lambda: (holder := cluster.holder()) not in ("", victim) and holder, 120, "another holder")
    taken_after = time.time() - killed_at
    finisher = wait(lambda: cluster.applied_by_holder(slow), 600, "the slow commit applied by the new holder")
    converged_after = time.time() - killed_at
    print(f"takeover {taken_after:.1f}s, converged {converged_after:.1f}s after the kill")

    assert finisher != victim and successor != victim
    replicas_seen |= set(cluster.ready_pods())
    runs = cluster.runs(sorted(replicas_seen), {victim: killed_at})
    assert not overlapping(runs), "two replicas' runs of the stack overlapped"
    assert any(replica == victim and start < killed_at for start, _, replica in runs)
    updates = [(update["startTime"], update.get("endTime") or update["startTime"], update["kind"])
               for update in cluster.history()]
    assert not overlapping(updates), "two updates overlapped in the backend's history"
    assert project.get("deployment", "demo")["spec"]["template"]["spec"]["containers"][0][
        "readinessProbe"]["initialDelaySeconds"] == 40


def test_a_commit_to_the_reconcilers_code_is_built_by_a_replica_and_its_new_pods_start(cluster):
    # Nothing on this machine builds now: the replica holding the stack builds the image from its own checkout
    # (umask 077: the code 0600 there) and rolls the Deployment out, replacing itself. Its image once came out
    # unreadable to the pods' user and the new pods crash-looped.
    project = cluster.project
    before = {pod["spec"]["containers"][0]["image"] for pod in cluster.pods()}
    start_replica = project.root / "deploy" / "reconciler" / "start_replica.py"
    start_replica.write_text(start_replica.read_text() + "\n# a change to the reconciler's own code\n")
    commit = project.commit("a change to the reconciler's code, built in the cluster")

    def rolled_out() -> Optional[set[str]]:
        pods = cluster.pods()
        images = {pod["spec"]["containers"][0]["image"] for pod in pods}
        ready = cluster.ready_pods()
        return images if len(pods) == REPLICAS and len(ready) == REPLICAS and not images & before else None

    images = wait(rolled_out, 900, f"{REPLICAS} Ready replicas of an image built from {commit[:12]}")
    assert len(images) == 1
    restarts = [status["restartCount"] for pod in cluster.pods() for status in pod["status"]["containerStatuses"]]
    assert restarts and max(restarts) <= 2, f"the new pods restarted {restarts} times"
    # The new pods have no record of the stack: the holder applies the head again, before the teardown's own run.
    wait(lambda: cluster.applied_by_holder(commit), 600, "the new holder's apply of the head")
