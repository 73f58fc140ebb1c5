"""Serve the app with security headers on every HTTP response.

    python -m ui.serve [streamlit run flags, e.g. --server.port 8502]

Streamlit has no option for response headers; its supported hook is ``st.App``, the ASGI app
``streamlit run`` starts, which takes Starlette middleware. :data:`app` is ``app.py`` wrapped in
:class:`SecurityHeaders`; :func:`main` parses ``streamlit run``'s flags and serves it the way
``streamlit run app.py`` would serve the script: config from ``.streamlit/`` beside ``app.py``,
the repository root on ``sys.path``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import streamlit
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from streamlit.starlette import App

ROOT = Path(__file__).resolve().parent.parent
APP_SCRIPT = ROOT / "app.py"
#: Streamlit's page, whose inline ``<script>`` blocks the policy allows by their hashes.
STREAMLIT_INDEX = Path(streamlit.__file__).parent / "static" / "index.html"


def inline_script_hashes(html: str) -> tuple[str, ...]:
    """CSP source expressions (``'sha256-...'``) of the inline ``<script>`` blocks in ``html``
    (scripts with a ``src`` load from 'self' and need none)."""
    bodies = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, flags=re.DOTALL)
    return tuple(
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in bodies
    )


def content_security_policy(script_hashes: Sequence[str]) -> str:
    """What the Streamlit page and its plotly charts need, nothing from another origin.

    Scripts only from the server and the page's own inline script (by hash; no
    'unsafe-inline', no 'unsafe-eval'); 'wasm-unsafe-eval' lets Streamlit's protobuf reader
    (long.js) compile its built-in WebAssembly multiply, which runs no JavaScript. Inline
    styles are allowed because Streamlit's components (emotion) and plotly write their CSS into
    ``<style>`` elements at run time. Images, fonts and workers also as ``data:`` / ``blob:``
    URLs (emoji favicons, charts' exports). No plugins, no ``<base>`` from elsewhere, no
    framing by any page.
    """
    return "; ".join(
        [
            "default-src 'self'",
            "script-src " + " ".join(["'self'", "'wasm-unsafe-eval'", *script_hashes]),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": content_security_policy(
        inline_script_hashes(STREAMLIT_INDEX.read_text(encoding="utf-8"))
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every HTTP response (pages, static files,
    health checks, uploads, media, errors). WebSocket traffic passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


app = App(APP_SCRIPT, middleware=[Middleware(SecurityHeaders)])


def main(argv: Sequence[str]) -> None:
    """Serve :data:`app` with ``streamlit run``'s flags (``argv``; after ``--``: the script's
    arguments). Blocks until the server stops."""
    import click
    from streamlit import config
    from streamlit.web import bootstrap, cli

    try:
        context = cli.main_run.make_context("python -m ui.serve", [str(APP_SCRIPT), *argv])
    except click.exceptions.Exit as exc:  # --help was shown
        raise SystemExit(exc.exit_code) from None
    except click.ClickException as exc:  # a bad flag: click's one line, exit 2
        exc.show()
        raise SystemExit(exc.exit_code) from None
    flags = {k: v for k, v in context.params.items() if k not in ("target", "args")}
    # What ``streamlit run app.py`` does first: config files are looked up beside the script.
    config._main_script_path = str(APP_SCRIPT)
    bootstrap.load_config_options(flag_options=flags)
    bootstrap.run_asgi_app(str(APP_SCRIPT), "ui.serve:app", list(context.params["args"]), flags)


if __name__ == "__main__":
    main(sys.argv[1:])
