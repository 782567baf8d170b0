"""A local environment on loopback: Docker engine, image registry and a
Kubernetes control plane with two nodes: one simulated by kwok (pods never
run; the default for every workload) and one real kubelet with containerd
(tainted: only pods that tolerate it run there, such as the sample app).

    python -m localenv up       start what is not running, wait until ready
    python -m localenv down     stop what `up` started
    python -m localenv status   one line per component; exit 1 if any is down
    python -m localenv env      shell exports, for `eval "$(python -m localenv env)"`

Everything it writes (pid files, logs, data, certificates, kubeconfigs) lives
under one state directory, except two things kept per machine: the base
image's root filesystem tarball (in the tools cache) and, while they run,
two network bridges: gitops0 (its own dockerd's) and gitopspods0 (the real
node's pods), and the real node's pod cgroups (/kubepods in each cgroup v1
hierarchy); and the node's disk, /var/lib/pulumi-gitops (the reconciler's
volume and build inputs, kept by `down`: localenv/reconciler_node.py). Settings, all optional, read from the environment:

    GITOPS_STATE_DIR                    state directory (default <repo>/.state)
    GITOPS_TOOLS_CACHE                  built tools (default ~/.cache/gitops-tools)
    LOCALENV_REGISTRY_PORT              image registry (default 5050)
    LOCALENV_KINE_PORT                  kine, the etcd API over SQLite (default 12379)
    LOCALENV_APISERVER_PORT             kube-apiserver, HTTPS (default 16443)
    LOCALENV_CONTROLLER_MANAGER_PORT    kube-controller-manager health (default 16257)
    LOCALENV_SCHEDULER_PORT             kube-scheduler health (default 16259)
    LOCALENV_KUBELET_PORT               the real node's kubelet API, on the pod bridge (default 10250)
    LOCALENV_KUBELET_HEALTHZ_PORT       the kubelet's health, on 127.0.0.1 (default 10248)
    LOCALENV_GIT_PORT                   the read-only Git host the reconciler's pods fetch from (default 19418)
    LOCALENV_START_TIMEOUT              seconds a component may take to be ready (default 90)
"""
