"""A real headless Chromium, driven over the DevTools protocol, for the HTML report's tests.

`Chromium(binary, directory)` starts Debian's `chromium` with a new empty profile under
`directory` and `--remote-debugging-port=0`; the port it picked is read from the
`DevToolsActivePort` file it writes into the profile. `browser.page()` attaches to its
first tab: `navigate`, `evaluate` (JavaScript, awaited, by value), `click` (a real mouse
click at an element's centre), `key` (a real key press) and `send` for any other command.
Every event the page sends is kept in `page.events`, so a test can ask afterwards
whether a dialog opened or an exception was thrown. `bench/bench_html.py` uses it too.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import websocket

# The flags of the developers' guide: headless as root, no network of its own, no first run.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)
START_TIMEOUT = 30.0
KEYS = {"ArrowDown": 40, "ArrowUp": 38, "Enter": 13, " ": 32, "Tab": 9}


class BrowserError(RuntimeError):
    pass


def screenshot(binary: str, url: str, out: Path, profile: Path, size: str = "1280,1600") -> None:
    """`chromium --screenshot`: the page as the command line renders it, written to `out`."""
    profile.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={out}",
         f"--window-size={size}", "--hide-scrollbars", url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if result.returncode != 0 or not out.exists():
        raise BrowserError(f"chromium --screenshot failed ({result.returncode}): {result.stderr}")


class Chromium:
    def __init__(self, binary: str, directory: Path) -> None:
        self.profile = directory / "chromium-profile"
        self.profile.mkdir(parents=True)
        self.log = directory / "chromium.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [binary, *FLAGS, f"--user-data-dir={self.profile}",
                 "--remote-debugging-port=0", "--window-size=1280,1000", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        try:
            self.port = self._port()
        except BaseException:
            self.close()
            raise

    def _port(self) -> int:
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrowserError(f"chromium exited {self.process.returncode}: {self._log()}")
            lines = active.read_text().splitlines() if active.exists() else []
            if lines and lines[0].isdigit():
                return int(lines[0])
            time.sleep(0.05)
        raise BrowserError(f"chromium wrote no DevToolsActivePort in {START_TIMEOUT} s")

    def _log(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]

    def page(self) -> Page:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=10) as r:
            targets = json.load(r)
        tab = next(target for target in targets if target["type"] == "page")
        return Page(tab["webSocketDebuggerUrl"])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    def __init__(self, url: str) -> None:
        # No Origin header: Chromium refuses DevTools connections from unlisted origins.
        self.socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.events: list[dict[str, Any]] = []
        self._id = 0
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        ident = self._id
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        self.events.append(message)
        if message.get("method") == "Page.javascriptDialogOpening":
            # Answer it, or the page would stay blocked; the event is kept for the test.
            self._id += 1
            self.socket.send(
                json.dumps(
                    {"id": self._id, "method": "Page.handleJavaScriptDialog",
                     "params": {"accept": False}}
                )
            )  # fmt: skip

    def wait_for(
        self,
        method: str,
        timeout: float = 30.0,
        match: Callable[[dict[str, Any]], bool] = lambda params: True,
    ) -> dict[str, Any]:
        """The first event `method` (already received or still to come) whose params match."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method and match(event.get("params", {})):
                    return event
            seen = len(self.events)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"no {method} event within {timeout} s")
            self.socket.settimeout(remaining)
            message = json.loads(self.socket.recv())
            if "id" not in message:
                self._event(message)

    def navigate(self, url: str) -> None:
        self.events.clear()
        frame = self.send("Page.navigate", url=url)
        if frame.get("errorText"):
            raise BrowserError(f"cannot open {url}: {frame['errorText']}")
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real left click (press and release) at the centre of the element."""
        box = self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            " el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                type=kind, x=box[0], y=box[1], button="left", clickCount=1,
            )  # fmt: skip

    def key(self, key: str) -> None:
        """A real key press and release, sent to the focused element."""
        code = KEYS[key]
        for kind in ("keyDown", "keyUp"):
            self.send(
                "Input.dispatchKeyEvent",
                type=kind, key=key, code=key, windowsVirtualKeyCode=code,
                nativeVirtualKeyCode=code,
            )  # fmt: skip

    def close(self) -> None:
        self.socket.close()

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
