"""Drive headless Chromium from the standard library: screenshots, DOM dumps, page inspection.

``inspect_page`` speaks the DevTools protocol over ``--remote-debugging-pipe`` (JSON messages
separated by NUL bytes on file descriptors 3 and 4): it opens the page, waits for its load
event, evaluates one expression in it and collects console errors, exceptions and log entries.
No Python dependency beyond the standard library; Chromium itself comes from Debian's
``chromium`` package (``tests/report/ensure_chromium.sh`` installs it).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
)
CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def find_chromium() -> str | None:
    """The Chromium binary, or ``None`` when none is installed."""
    for path in (os.environ.get("REGLAB_CHROMIUM", ""), *CANDIDATES):
        if path and os.access(path, os.X_OK):
            return path
    return shutil.which("chromium")


def _run(args: list[str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError("chromium")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def screenshot(page: Path, png: Path, *, width: int = 1280, height: int = 4000) -> None:
    """Render ``page`` and save a ``width``×``height`` screenshot to ``png``."""
    _run([f"--screenshot={png}", f"--window-size={width},{height}", page.resolve().as_uri()])


def dump_dom(page: Path) -> str:
    """The DOM of ``page`` after parsing and load, serialized by Chromium."""
    return _run(["--dump-dom", page.resolve().as_uri()]).stdout


class _Pipe:
    def __init__(self, write_fd: int, read_fd: int) -> None:
        self.write_fd, self.read_fd = write_fd, read_fd
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> int:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.write_fd, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def wait(self, match: Any, timeout: float) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                msg = json.loads(raw)
                if match(msg):
                    return msg
                self.events.append(msg)
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self.read_fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self.read_fd, 1 << 20)
                if not chunk:
                    raise EOFError("chromium closed the DevTools pipe")
                self.buffer += chunk

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str = "", *,
        timeout: float = 60,
    ) -> dict[str, Any]:  # fmt: skip
        i = self.send(method, params, session)
        msg = self.wait(lambda m: m.get("id") == i, timeout)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return dict(msg.get("result", {}))


def inspect_page(page: Path, expression: str, *, timeout: float = 90) -> dict[str, Any]:
    """Load ``page``, evaluate ``expression`` (a JSON-returning JS expression) and report.

    Returns ``{"value": <the expression's value>, "errors": [...]}`` where ``errors`` holds
    every console error, uncaught exception and error-level log entry the page produced
    (content-security-policy violations and failed loads included).
    """
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError("chromium")
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()

    def child_fds() -> None:  # runs in the child: its DevTools pipe must be fds 3 and 4
        a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
        os.dup2(a, 3)
        os.dup2(b, 4)
        os.set_inheritable(3, True)
        os.set_inheritable(4, True)

    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe",
             "--window-size=1280,2000", "about:blank"],
            close_fds=False,  # Python's own descriptors are close-on-exec anyway
            preexec_fn=child_fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        pipe = _Pipe(to_chrome_w, from_chrome_r)
        try:
            target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"
            ]
            for domain in ("Page", "Runtime", "Log"):
                pipe.call(f"{domain}.enable", None, session)
            pipe.call("Page.navigate", {"url": page.resolve().as_uri()}, session)
            pipe.wait(lambda m: m.get("method") == "Page.loadEventFired", timeout)
            result = pipe.call(
                "Runtime.evaluate",
                {"expression": expression, "returnByValue": True, "awaitPromise": True},
                session,
            )
            with contextlib.suppress(EOFError, TimeoutError, RuntimeError):
                pipe.call("Browser.close", timeout=10)
        finally:
            os.close(to_chrome_w)
            os.close(from_chrome_r)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if "exceptionDetails" in result:
        raise RuntimeError(f"evaluation failed: {result['exceptionDetails']}")
    value = result["result"].get("value")
    return {"value": json.loads(value) if isinstance(value, str) else value,
            "errors": _errors(pipe.events)}  # fmt: skip


def _errors(events: list[dict[str, Any]]) -> list[str]:
    errors = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = [a.get("value", a.get("description")) for a in params.get("args", [])]
            errors.append(f"console.{params['type']}: {args}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(f"log: {params['entry'].get('text')}")
    return errors
