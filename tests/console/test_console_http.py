"""The console's HTTP guarantees against a real TLS server (same certificate and key as gRPC):
sessions, CSRF, no secret in a URL, the console password, a rate-limited sign-in, health and
metrics endpoints. Plain ``requests``; no browser needed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.control.conftest import Server, start_server, stop_server
from tests.control.test_api import _self_signed

pytestmark = pytest.mark.ray


class Tls:
    def __init__(self, server: Server, url: str, token: str, ca: Path) -> None:
        self.server, self.url, self.token, self.ca = server, url, token, ca

    def session(self) -> requests.Session:
        s = requests.Session()
        s.verify = str(self.ca)
        s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        return s

    def sign_in(self, secret: str | None = None) -> tuple[requests.Session, requests.Response]:
        s = self.session()
        form = s.get(self.url + "/signin", timeout=30)
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        r = s.post(self.url + "/signin", data={"csrf": csrf, "secret": secret or self.token},
                   allow_redirects=False, timeout=30)
        return s, r


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tls]:
    base = tmp_path_factory.mktemp("console-tls")
    cert, key = _self_signed(base)
    srv = start_server(base, "--http-listen", "127.0.0.1:0", "--tls-cert", str(cert),
                       "--tls-key", str(key))
    try:
        url = (srv.data_dir / "console.address").read_text().strip()
        assert url.startswith("https://127.0.0.1:"), url
        yield Tls(srv, url, (srv.data_dir / "control.token").read_text().strip(), cert)
    finally:
        stop_server(srv.proc)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_plain_http_is_refused_under_tls(tls: Tls) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(tls.url.replace("https://", "http://") + "/healthz", timeout=10)


def test_health_is_open_metrics_need_the_token(tls: Tls) -> None:
    s = tls.session()
    assert s.get(tls.url + "/healthz", timeout=30).text.strip() == "ok"
    assert s.get(tls.url + "/readyz", timeout=30).status_code == 200
    assert s.get(tls.url + "/metrics", timeout=30).status_code == 401
    wrong = s.get(tls.url + "/metrics", headers={"Authorization": "Bearer nope"}, timeout=30)
    assert wrong.status_code == 401
    ok = s.get(tls.url + "/metrics", headers={"Authorization": f"Bearer {tls.token}"},
               timeout=30)
    assert ok.status_code == 200 and "cirahub_runtime_up 1.0" in ok.text


def test_pages_need_a_session(tls: Tls) -> None:
    s = tls.session()
    page = s.get(tls.url + "/", headers={"Accept": "text/html"}, allow_redirects=False,
                 timeout=30)
    assert page.status_code == 303 and page.headers["Location"] == "/signin"
    for method, path in (("GET", "/partials/hubs"), ("GET", "/events/stream"),
                         ("POST", "/hubs/team/sync"), ("POST", "/wizard")):
        r = s.request(method, tls.url + path, allow_redirects=False, timeout=30)
        assert r.status_code == 401, (method, path, r.status_code)


def test_session_cookie_is_httponly_strict_and_secure(tls: Tls) -> None:
    _, r = tls.sign_in()
    assert r.status_code == 303
    cookie = next(v for k, v in r.raw.headers.items() if k.lower() == "set-cookie"
                  and v.startswith("cirahub_session="))
    flags = {f.strip().lower() for f in cookie.split(";")}
    assert {"httponly", "samesite=strict", "secure", "path=/"} <= flags, cookie
    assert tls.token not in cookie


def test_every_answer_has_a_strict_content_security_policy(tls: Tls) -> None:
    s, _ = tls.sign_in()
    r = s.get(tls.url + "/", timeout=30)
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"


def test_a_token_in_the_url_signs_nobody_in(tls: Tls) -> None:
    s = tls.session()
    r = s.get(tls.url + f"/signin?secret={tls.token}", timeout=30)
    assert "cirahub_session" not in s.cookies
    r = s.post(tls.url + f"/signin?secret={tls.token}&csrf=x", allow_redirects=False,
               timeout=30)
    assert r.status_code in (401, 403) and "cirahub_session" not in s.cookies


def test_wrong_or_missing_csrf_is_refused(tls: Tls) -> None:
    s, _ = tls.sign_in()
    page = s.get(tls.url + "/", timeout=30)
    good = csrf_of(page.text)
    for data in ({}, {"csrf": "wrong"}, {"csrf": good[:-1]}):
        r = s.post(tls.url + "/hubs/nohub/sync", data=data, allow_redirects=False, timeout=30)
        assert r.status_code == 403, (data, r.status_code)
        assert "CSRF" in r.text
    header = s.post(tls.url + "/hubs/nohub/sync", headers={"X-CSRF-Token": "wrong"},
                    timeout=30)
    assert header.status_code == 403
    # the right token passes the guard: the unknown hub is then named
    r = s.post(tls.url + "/hubs/nohub/sync", data={"csrf": good}, timeout=30)
    assert r.status_code == 404 and "nohub" in r.text


def test_sign_in_form_needs_its_own_csrf(tls: Tls) -> None:
    s = tls.session()
    r = s.post(tls.url + "/signin", data={"secret": tls.token}, allow_redirects=False,
               timeout=30)
    assert r.status_code == 403 and "cirahub_session" not in s.cookies


def test_sign_out_ends_the_session(tls: Tls) -> None:
    s, _ = tls.sign_in()
    csrf = csrf_of(s.get(tls.url + "/", timeout=30).text)
    cookie = s.cookies["cirahub_session"]
    r = s.post(tls.url + "/signout", data={"csrf": csrf}, allow_redirects=False, timeout=30)
    assert r.status_code == 303
    stale = tls.session()
    stale.cookies.set("cirahub_session", cookie)
    again = stale.get(tls.url + "/partials/hubs", allow_redirects=False, timeout=30)
    assert again.status_code == 401


def test_console_password(tls: Tls) -> None:
    short = tls.server.ctl("console-password", "--password-env", "PW", env={"PW": "short"})
    assert short.code != 0 and "at least 12" in short.text
    r = tls.server.ctl("console-password", "--password-env", "PW",
                       env={"PW": "correct horse battery"})
    assert r.code == 0, r.text
    stored = (tls.server.data_dir / "console.password").read_text()
    assert "correct horse" not in stored and stored.startswith("scrypt$")
    assert (tls.server.data_dir / "console.password").stat().st_mode & 0o777 == 0o600
    _, ok = tls.sign_in("correct horse battery")
    assert ok.status_code == 303
    assert "correct horse" not in tls.server.log_text()
    r = tls.server.ctl("console-password", "--remove")
    assert r.code == 0
    _, gone = tls.sign_in("correct horse battery")
    assert gone.status_code == 401


def test_sign_in_is_rate_limited(tls: Tls) -> None:
    """Last in this module: it locks 127.0.0.1 out of sign-in for a minute."""
    codes = [tls.sign_in("wrong guess")[1] for _ in range(6)]  # earlier tests failed once
    statuses = [r.status_code for r in codes]
    assert statuses[0] == 401 and statuses[-1] == 429, statuses
    assert set(statuses) == {401, 429} and statuses.count(401) <= 5, statuses
    limited = codes[-1]
    assert int(limited.headers["Retry-After"]) > 0
    _, even_right = tls.sign_in()  # no guessing through: the right token waits too
    assert even_right.status_code == 429
    assert tls.token not in tls.server.log_text()
