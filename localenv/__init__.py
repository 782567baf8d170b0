"""A local environment on loopback: Docker engine, image registry and a
Kubernetes control plane whose node and pods are simulated by kwok.

    python -m localenv up       start what is not running, wait until ready
    python -m localenv down     stop what `up` started
    python -m localenv status   one line per component; exit 1 if any is down
    python -m localenv env      shell exports, for `eval "$(python -m localenv env)"`

Everything it writes (pid files, logs, data, certificates, kubeconfigs) lives
under one state directory, except two things kept per machine: the base
image's root filesystem tarball (in the tools cache) and, while its own
dockerd runs, a network bridge named gitops0. Settings, all optional, read
from the environment:

    GITOPS_STATE_DIR                    state directory (default <repo>/.state)
    GITOPS_TOOLS_CACHE                  built tools (default ~/.cache/gitops-tools)
    LOCALENV_REGISTRY_PORT              image registry (default 5050)
    LOCALENV_KINE_PORT                  kine, the etcd API over SQLite (default 12379)
    LOCALENV_APISERVER_PORT             kube-apiserver, HTTPS (default 16443)
    LOCALENV_CONTROLLER_MANAGER_PORT    kube-controller-manager health (default 16257)
    LOCALENV_SCHEDULER_PORT             kube-scheduler health (default 16259)
    LOCALENV_START_TIMEOUT              seconds a component may take to be ready (default 90)
"""
