"""How the app is served (``python -m ui.serve``, started by ``ui.server.running_app``): the
security headers on every kind of response, bound to this machine only, and the pages and a
prediction's plotly charts working under the Content-Security-Policy."""

from __future__ import annotations

import re
import socket
import sys
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ui.serve import SECURITY_HEADERS, content_security_policy, inline_script_hashes
from ui.server import CHROMIUM, CHROMIUM_ARGS, RunningApp, running_app


@pytest.fixture(scope="module")
def app() -> Iterator[RunningApp]:
    with running_app() as running:
        yield running


def _get(app: RunningApp, path: str) -> tuple[int, dict[str, str], bytes]:
    address = urlsplit(app.url)
    connection = HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


# --- the policy ----------------------------------------------------------------------------------


def test_inline_scripts_are_hashed_and_scripts_with_a_source_are_not() -> None:
    html = '<script>x</script><script type="module" src="./a.js"></script><script>\n</script>'
    # sha256("x") and sha256("\n"), base64: the values a browser computes for these blocks.
    assert inline_script_hashes(html) == (
        "'sha256-LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE='",
        "'sha256-AbpHGcgLb+kRsJGnwFEktk7uzpZOCcBY74+YBdrKVGs='",
    )


def test_policy_allows_nothing_from_elsewhere() -> None:
    policy = content_security_policy(["'sha256-abc'"])
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval' 'sha256-abc'"
    assert "unsafe-eval'" not in directives["script-src"].replace("wasm-unsafe-eval", "")
    assert "http" not in policy and "*" not in policy  # no other origin, no wildcard


# --- the running server --------------------------------------------------------------------------


def _static_asset(app: RunningApp) -> str:
    _, _, body = _get(app, "/")
    found = re.search(r'src="\./(static/js/[^"]+\.js)"', body.decode())
    assert found, "the page names no script"
    return "/" + found.group(1)


@pytest.mark.parametrize("path", ["/", "/_stcore/health", "static", "/favicon.png", "/no/such"])
def test_every_response_carries_the_security_headers(app: RunningApp, path: str) -> None:
    status, headers, _ = _get(app, _static_asset(app) if path == "static" else path)
    assert status == 200, (path, status)  # unknown paths get the page (client-side routing)
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name.lower()) == value, (path, name)
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def _listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        table = Path("/proc/net") / name
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, raw))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net")
def test_server_listens_on_localhost_only(app: RunningApp) -> None:
    port = urlsplit(app.url).port
    assert port is not None
    # The launcher passes no address: this is .streamlit/config.toml's server.address.
    assert _listening_addresses(port) == {"127.0.0.1"}  # not 0.0.0.0, not ::


# --- the pages under the policy ------------------------------------------------------------------

REPORT_VIOLATIONS = """document.addEventListener('securitypolicyviolation', (e) =>
    console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`))"""


def test_pages_and_plotly_charts_work_under_the_policy(app: RunningApp) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.test_browser import _example, _predict, _wait_result

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        console: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
        page.add_init_script(REPORT_VIOLATIONS)
        page.goto(app.url, wait_until="networkidle")
        page.get_by_role("button", name="Predict", exact=True).wait_for()
        _example(page)
        _predict(page)
        _wait_result(page)
        page.get_by_text("Viewer: window/level").click()  # its chart is drawn when opened
        charts = page.locator(".js-plotly-plot >> visible=true")
        charts.nth(4).wait_for()  # the viewer and the result's four charts
        page.locator('[data-testid="stImage"] img').nth(5).wait_for()  # and its overlays
        for i in range(5):
            chart = charts.nth(i)
            chart.scroll_into_view_if_needed()
            chart.locator(".main-svg").first.wait_for()
            box = chart.bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 100, (i, box)
            drawn = chart.locator(".barlayer .point, .heatmaplayer image, .scatterlayer .trace")
            assert drawn.count() > 0, f"chart {i} has no data drawn"
        page.get_by_role("link", name="About").click()
        page.get_by_text("bundled phantom example", exact=False).first.wait_for()
        browser.close()
    problems = [
        line
        for line in console
        if "Content Security Policy" in line or "CSP violation" in line or "pageerror" in line
    ]
    assert problems == []
