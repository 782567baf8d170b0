"""A kubeconfig for the local cluster's address with dummy credentials: for tests that only read it."""

LOCAL_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:16443", certificate-authority-data: Q0E=}
contexts:
- name: gitops-local
  context: {cluster: local, user: admin}
current-context: gitops-local
users:
- name: admin
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
"""
