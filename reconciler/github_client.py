"""The one GitHub REST client: pull request comments and commit statuses both go through it.

urllib3 sends the requests and retries them: its `Retry` waits with exponential backoff after a 5xx or a
connection error, and waits what `Retry-After` says (up to RETRY_AFTER_MAX_S) on a 429 and on the 403 that
GitHub answers a secondary rate limit with. A 403 without `Retry-After` is a refusal and is not retried.
Why not PyGithub or githubkit: reconciler/README.md, "Commit statuses".
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any, Mapping, Optional

import urllib3
from urllib3.exceptions import HTTPError as TransportError

USER_AGENT = "pulumi-gitops"
API_VERSION = "2022-11-28"
# A longer Retry-After is waited this long: delivery is bounded, whatever the server asks.
RETRY_AFTER_MAX_S = 60
_SERVER_ERRORS = frozenset(range(500, 600))
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})


class _GitHubRetry(urllib3.Retry):
    # GitHub's secondary rate limit answers 403 or 429 with Retry-After (urllib3 alone honours it on 429 and 503).
    RETRY_AFTER_STATUS_CODES = frozenset({403, 429, 503})


class GitHubApiError(Exception):
    """GitHub refused (`status` set) or could not be reached or understood (`status` None); never holds the token."""

    def __init__(self, problem: str, status: Optional[int] = None, said: str = "", rate_limited: bool = False) -> None:
        super().__init__(problem)
        self.problem = problem
        self.status = status
        self.said = said  # GitHub's own explanation, on one line, bounded
        self.rate_limited = rate_limited


class GitHubClient:
    def __init__(self, api_url: str, token: str, *, timeout: float = 30.0, retries: int = 3, backoff_s: float = 0.5) -> None:
        self.base = api_url.rstrip("/")
        self._origin = urllib.parse.urlsplit(self.base)[:2]
        self._token = token
        self._retries = retries
        self._backoff_s = backoff_s
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(total=timeout))

    def request(self, method: str, path: str, payload: Optional[dict[str, Any]] = None,
                *, repeatable: Optional[bool] = None) -> tuple[Any, Mapping[str, str]]:
        """JSON of a 2xx answer and its headers; raises GitHubApiError.

        `path` is a path under the API, or a full URL on the API's own origin (a next-page link). A request
        that is not `repeatable` (by default: a POST, which may have been done once already when GitHub
        answered 5xx) is retried only when it never reached GitHub.
        """
        url = self._on_api(path)
        repeatable = method.upper() in _IDEMPOTENT if repeatable is None else repeatable
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
        }
        body = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(payload).encode("utf-8")
        try:
            response = self._http.request(method, url, body=body, headers=headers, retries=self._retry(repeatable))
        except TransportError as error:
            reason = getattr(error, "reason", None) or error
            raise GitHubApiError(f"could not reach the GitHub API at {self.base} ({self._scrubbed(str(reason))})") from None
        if response.status >= 400:
            raise self._refused(response)
        try:
            return json.loads(response.data or b"null"), response.headers
        except ValueError:
            raise GitHubApiError(f"the GitHub API at {self.base} answered with something that is not JSON") from None

    def _retry(self, repeatable: bool) -> urllib3.Retry:
        # Not repeatable: a status answer or a broken read is final (status=0, read=False); a refused connection is not.
        return _GitHubRetry(
            total=self._retries, read=None if repeatable else False, status=None if repeatable else 0,
            backoff_factor=self._backoff_s, status_forcelist=_SERVER_ERRORS, allowed_methods=None,
            raise_on_status=False, respect_retry_after_header=True, retry_after_max=RETRY_AFTER_MAX_S,
        )

    def _on_api(self, path: str) -> str:
        if path.startswith("/"):
            return f"{self.base}{path}"
        # The token goes only to the API it was configured for.
        if urllib.parse.urlsplit(path)[:2] != self._origin:
            raise GitHubApiError(f"a link GitHub gave points outside {self.base}; refusing to send the token there")
        return path

    def _refused(self, response: urllib3.BaseHTTPResponse) -> GitHubApiError:
        headers = response.headers
        limited = response.status in (403, 429) and (headers.get("X-RateLimit-Remaining") == "0" or bool(headers.get("Retry-After")))
        return GitHubApiError(f"GitHub answered {response.status}", response.status, self._github_message(response.data), limited)

    def _github_message(self, data: bytes) -> str:
        """GitHub's own explanation, bounded, on one line, and never carrying the token."""
        try:
            detail = json.loads(data or b"{}")
        except ValueError:
            return ""
        if not isinstance(detail, dict):
            return ""
        parts = [str(detail.get("message", ""))]
        for item in detail.get("errors") or []:
            parts.append(str(item.get("message") or item.get("code") or "") if isinstance(item, dict) else str(item))
        return self._scrubbed(" ".join(" ".join(part for part in parts if part).split())[:300])

    def _scrubbed(self, text: str) -> str:
        return text.replace(self._token, "[token]") if self._token else text
