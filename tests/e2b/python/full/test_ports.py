"""Reaching a server that runs inside the sandbox on a user port (get_host and header routing)."""

import os
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import poll


@pytest.fixture(scope="module")
def web(sbx):
    """python3's http.server on port 8000 inside the sandbox, serving a known file."""
    # the page is written by a command, so these tests depend on port routing only
    sbx.commands.run("mkdir -p /home/user/www && printf 'hello from port 8000' > /home/user/www/index.html")
    h = sbx.commands.run(
        "python3 -m http.server 8000 --bind 127.0.0.1", cwd="/home/user/www", background=True, timeout=0
    )
    poll(
        lambda: sbx.commands.run(
            "python3 -c \"import urllib.request as u; u.urlopen('http://127.0.0.1:8000/').read()\" && echo up || true"
        ).stdout.strip() == "up",
        what="http.server listening in the sandbox",
    )
    yield sbx
    sbx.commands.kill(h.pid)


def test_get_host_routes_by_host_header(web):
    host = web.get_host(8000)
    assert host.startswith(f"8000-{web.sandbox_id}.")
    server = urlsplit(os.environ["E2B_SANDBOX_URL"]).netloc
    r = httpx.get(f"http://{server}/index.html", headers={"Host": host}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.text == "hello from port 8000"


def test_sandbox_headers_route_to_user_port(web):
    r = httpx.get(
        f"{os.environ['E2B_SANDBOX_URL']}/index.html",
        headers={"E2b-Sandbox-Id": web.sandbox_id, "E2b-Sandbox-Port": "8000"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert r.text == "hello from port 8000"


def test_closed_port_is_an_error(web):
    r = httpx.get(
        f"{os.environ['E2B_SANDBOX_URL']}/",
        headers={"E2b-Sandbox-Id": web.sandbox_id, "E2b-Sandbox-Port": "8001"},
        timeout=60,
    )
    assert r.status_code == 502, r.text
