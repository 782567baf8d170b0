"""Writes one Event with the Kubernetes client, reading the kubeconfig each time (it may appear or be renewed later)."""

from __future__ import annotations

from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from reconciler.settings.notification_settings import EventsTarget

# (connect, read) seconds of the one request an Event takes, and the retries of a refused connection.
REQUEST_TIMEOUT = (5.0, 10.0)
CONNECT_RETRIES = 1


class ClusterUnreachable(Exception):
    """The Event could not be written; the text says why without the kubeconfig's contents."""


def write_event(target: EventsTarget, body: dict[str, Any]) -> None:
    try:
        settings = client.Configuration()
        config.load_kube_config(str(target.kubeconfig), context=target.context, client_configuration=settings)
        settings.retries = CONNECT_RETRIES
        with client.ApiClient(settings) as api:
            client.CoreV1Api(api).create_namespaced_event(target.namespace, body, _request_timeout=REQUEST_TIMEOUT)
    except ApiException as error:
        raise ClusterUnreachable(f"HTTP {error.status} {error.reason}") from None
    except (ConfigException, OSError, urllib3.exceptions.HTTPError) as error:
        last = error.reason if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None else error
        raise ClusterUnreachable(type(last).__name__) from None
