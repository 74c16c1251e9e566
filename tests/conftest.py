"""Shared fixtures: one strict build of the whole site per test session, served on localhost,
and one headless Chromium for the browser tests.

The helpers here (build, serve, find Chromium) are also used by ``benchmarks/browser.py``.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Keep Chromium from calling home: the request log must show only the local server.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def find_chromium() -> str | None:
    """$CHROMIUM, or a Chromium or Chrome on the PATH (scripts/ensure-chromium.sh installs one)."""
    names = [os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"]
    return next((shutil.which(name) for name in names if name and shutil.which(name)), None)


def build_site(config: Path, site_dir: Path) -> subprocess.CompletedProcess:
    """Run ``mkdocs build --strict`` for ``config`` into ``site_dir``; returns the process."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config)]
    command += ["-d", str(site_dir)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The whole course site, built once with ``mkdocs build --strict``."""
    site_dir = tmp_path_factory.mktemp("build") / "site"
    result = build_site(ROOT / "mkdocs.yml", site_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    return site_dir


def serve(site_dir: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``site_dir`` on 127.0.0.1 (a free port) in a thread; the server and its URL."""
    handler = functools.partial(QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="session")
def site_url(built_site) -> str:
    """The built site served by a local HTTP server on 127.0.0.1 (a free port)."""
    server, url = serve(built_site)
    yield url
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium, driven by Playwright (its sync API, not pytest-playwright's fixtures)."""
    chromium = find_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # without a system Chromium, Playwright's own (`playwright install chromium`), if any
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class PageLog:
    """What a page did: every request, the failed ones, and the errors its scripts threw."""

    def __init__(self, page):
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.bad_responses: list[str] = []
        self.page_errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("requestfailed", lambda request: self.failed.append(request.url))
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on(
            "response",
            lambda response: response.status >= 400 and self.bad_responses.append(response.url),
        )

    def assert_only_local(self, site_url: str) -> None:
        """Every request went to the local server and succeeded; no script threw.

        Material asks for ``sitemap.xml`` for its language switch: a harmless local 404.
        """
        host = urlsplit(site_url).netloc
        assert self.requests
        assert [url for url in self.requests if urlsplit(url).netloc != host] == []
        assert [url for url in self.bad_responses if not url.endswith("/sitemap.xml")] == []
        assert [url for url in self.failed if not url.endswith("/sitemap.xml")] == []
        assert self.page_errors == []


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
    }

    def log_message(self, format, *args):  # keep the test output readable
        pass
