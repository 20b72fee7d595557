"""A headless Chromium for tests, driven through chromedriver's W3C WebDriver HTTP API.

The console's integration tests need a real browser (the pages are JavaScript), but not a
Selenium dependency: WebDriver is a handful of JSON-over-HTTP calls, made here with urllib.
:class:`Browser` starts ``chromedriver`` on a free loopback port as a subprocess, opens one
headless session with a throw-away profile, and stops the driver by its PID when closed.

Browser console messages come from the ``goog:loggingPrefs`` capability and chromedriver's
log endpoint (``/se/log``, or the legacy ``/log`` on older drivers); a page that logs a
``SEVERE`` entry (a JavaScript error, a failed resource load, a CSP violation) is a page with
a bug.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["Browser", "WebDriverError", "find_chromium"]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1360,1000"]


class WebDriverError(RuntimeError):
    """chromedriver answered with an error (the W3C ``error`` and ``message``)."""


def find_chromium() -> tuple[str, str] | None:
    """``(chromium, chromedriver)`` paths, or None when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        return None
    return browser, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One chromedriver process and one headless Chromium session.

    Use as a context manager; :meth:`close` ends the session and stops chromedriver (SIGTERM,
    then SIGKILL, by PID).
    """

    def __init__(self, *, chromium: str | None = None, chromedriver: str | None = None,
                 startup_timeout: float = 20.0):
        found = find_chromium()
        if (chromium is None or chromedriver is None) and found is None:
            raise FileNotFoundError("chromium and chromedriver are needed "
                                    "(apt-get install chromium chromium-driver)")
        self.chromium = chromium or found[0]
        self.chromedriver = chromedriver or found[1]
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._profile = tempfile.mkdtemp(prefix="kafkalite-chromium-")
        self._log_path = Path(self._profile + ".driver.log")
        self._log = open(self._log_path, "wb")
        self.proc = subprocess.Popen(
            [self.chromedriver, f"--port={self.port}", "--allowed-ips=127.0.0.1"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        self.session_id: str | None = None
        try:
            self._wait_ready(startup_timeout)
            caps = {"browserName": "chrome",
                    "goog:chromeOptions": {"binary": self.chromium,
                                           "args": [*CHROMIUM_ARGS,
                                                    f"--user-data-dir={self._profile}"]},
                    "goog:loggingPrefs": {"browser": "ALL"}}
            value = self._call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})
            self.session_id = value["sessionId"]
        except BaseException:
            self.close()
            raise

    # --- plumbing ------------------------------------------------------------------------------

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise WebDriverError(f"chromedriver exited with {self.proc.returncode}")
            try:
                if self._call("GET", "/status").get("ready"):
                    return
            except (OSError, WebDriverError):
                pass
            time.sleep(0.1)
        raise WebDriverError(f"chromedriver not ready after {timeout} s")

    def _call(self, method: str, path: str, body: Any = None, timeout: float = 60) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as e:
            try:
                payload = json.loads(e.read() or b"{}")
            except ValueError:
                raise WebDriverError(f"{method} {path}: HTTP {e.code}") from None
            value = payload.get("value") or {}
            raise WebDriverError(f"{method} {path}: {value.get('error')}: "
                                 f"{value.get('message', '')[:500]}") from None
        return payload.get("value", payload)

    def _session(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, f"/session/{self.session_id}{path}", body)

    # --- what tests use ------------------------------------------------------------------------

    def get(self, url: str) -> None:
        """Navigate and wait for the document to load (WebDriver's page-load strategy)."""
        self._session("POST", "/url", {"url": url})

    def execute(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body: use ``return``) in the page."""
        return self._session("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, script: str, *args: Any, timeout: float = 15.0,
                 interval: float = 0.1) -> Any:
        """Poll ``script`` until it returns something truthy; return that.

        Raises:
            TimeoutError: still falsy after ``timeout`` seconds (with the page's text).
        """
        deadline = time.monotonic() + timeout
        while True:
            value = self.execute(script, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                text = self.execute("return document.body ? document.body.innerText : ''")
                raise TimeoutError(f"condition not met after {timeout} s: {script}\n"
                                   f"page text:\n{text[:2000]}")
            time.sleep(interval)

    def text(self, selector: str) -> str | None:
        return self.execute("const e = document.querySelector(arguments[0]);"
                            "return e ? e.innerText : null;", selector)

    def console_log(self) -> list[dict[str, Any]]:
        """Browser console entries since the last call (each ``level``, ``message``, ...)."""
        try:
            return self._session("POST", "/se/log", {"type": "browser"})
        except WebDriverError:
            return self._session("GET", "/log?type=browser")

    def screenshot(self, path: str | os.PathLike) -> Path:
        """Save the viewport as a PNG; returns the path."""
        data = base64.b64decode(self._session("GET", "/screenshot"))
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        return out

    def full_page_screenshot(self, path: str | os.PathLike, *, max_height: int = 4000) -> Path:
        """Resize the window to the page's height first, so the PNG shows the whole page."""
        height = self.execute("return Math.ceil(document.documentElement.scrollHeight)")
        width = self.execute("return window.outerWidth") or 1360
        self._session("POST", "/window/rect", {"width": width,
                                              "height": min(max_height, int(height) + 120)})
        try:
            return self.screenshot(path)
        finally:
            self._session("POST", "/window/rect", {"width": width, "height": 1000})

    def close(self) -> None:
        if self.session_id is not None:
            try:
                self._call("DELETE", f"/session/{self.session_id}", timeout=15)
            except (OSError, WebDriverError):
                pass
            self.session_id = None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        self._log.close()
        self._log_path.unlink(missing_ok=True)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
