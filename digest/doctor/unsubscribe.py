"""The List-Unsubscribe check (:func:`check_unsubscribe`): ``digest serve`` answers the
unsubscribe URL under ``base_url``, reachable from outside this machine."""

from __future__ import annotations

from digest.doctor.model import Check, Findings, is_loopback

#: the path ``digest serve`` answers List-Unsubscribe links on (digest/web/routes/unsubscribe.py)
UNSUBSCRIBE_PATH = "/unsubscribe/"
#: the token the List-Unsubscribe check sends: never valid, so the app answers 404
PROBE_TOKEN = "digest-doctor-probe"


def _app_marker() -> str | None:
    """A phrase of the page ``digest serve`` answers an invalid link with."""
    try:
        from digest.web.dependencies import BAD_LINK
    except ImportError:
        return None
    return BAD_LINK.split(".")[0]


def check_unsubscribe(
    base_url: str,
    *,
    timeout: float = 5.0,
    loopback_ok: bool = False,
    name: str = "List-Unsubscribe",
) -> Check:
    """GET the unsubscribe URL with an invalid token: ``digest serve`` should answer 404.

    A ``base_url`` on this machine (``localhost``, ``127.0.0.1``) is a warning — subscribers
    cannot reach it — unless ``loopback_ok`` (a site served on purpose to this machine only).
    """
    import httpx

    base = base_url.rstrip("/")
    url = f"{base}{UNSUBSCRIBE_PATH}{PROBE_TOKEN}"
    try:
        parsed = httpx.URL(base)
    except httpx.InvalidURL as error:
        return Check(
            name,
            "failure",
            f"[digest] base_url {base_url!r} is not a URL: {error}",
            "set base_url to the https:// address digest serve is reached at",
        )
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return Check(
            name,
            "failure",
            f"[digest] base_url {base_url!r} is not an http(s) URL",
            "set base_url to the https:// address digest serve is reached at",
        )
    start = "start digest serve and make base_url reach it, or correct [digest] base_url"
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=5) as client:
            response = client.get(url)
    except httpx.TimeoutException:
        return Check(name, "failure", f"GET {url} timed out after {timeout:g} s", start)
    except httpx.HTTPError as error:
        return Check(name, "failure", f"GET {url} failed: {error or type(error).__name__}", start)
    code = response.status_code
    found = Findings(name)
    if code >= 500:
        found.add("failure", "a server error", "see the log of digest serve (or the proxy)")
    elif code < 400:
        found.add(
            "warning",
            "expected 404 for an invalid link: is it digest serve that answers?",
            "check that base_url points at digest serve",
        )
    else:
        marker = _app_marker()
        if marker is not None and marker not in response.text:
            found.add(
                "warning",
                "not the digest's page for an invalid link: is digest serve behind base_url?",
                "check that base_url points at digest serve",
            )
        else:
            found.add("ok", "the web service answers (an invalid link, as expected)")
    host = parsed.host
    if is_loopback(host) and not loopback_ok:
        found.add(
            "warning",
            f"{host} is this machine: subscribers cannot reach it",
            "set [digest] base_url to the public https:// address of digest serve",
        )
    elif parsed.scheme == "http" and not is_loopback(host):
        found.add("warning", "plain http", "serve the site over https and use an https base_url")
    return found.check(f"GET {url} answered {code}")
