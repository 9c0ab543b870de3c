"""Open a local HTML file in headless Chromium and report what a person's browser would show:
console errors, uncaught exceptions, and whether every image decoded. Driven over the Chrome
DevTools Protocol on 127.0.0.1 with tornado's websocket client (already a dependency, via Dask);
every wait is bounded."""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Flags for a closed network: no background connections, no sandbox as root, a fresh profile.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"]


def inspect_page(path: Path, timeout: float = 60.0) -> dict:
    """``{"errors": [...], "images": [(complete, naturalWidth), ...], "title": str, "text": str}``."""
    from tornado.ioloop import IOLoop

    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        proc = subprocess.Popen([CHROMIUM, f"--user-data-dir={profile}", *FLAGS], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.time() + timeout
            while not (port_file.exists() and port_file.read_text().count("\n") >= 1) and time.time() < deadline:
                time.sleep(0.05)
            port = int(port_file.read_text().splitlines()[0])
            return IOLoop.current().run_sync(lambda: _inspect(port, Path(path).resolve(), timeout), timeout=timeout)
        finally:
            proc.kill()
            proc.wait(timeout=10)


async def _inspect(port: int, path: Path, timeout: float) -> dict:
    from tornado.httpclient import AsyncHTTPClient
    from tornado.websocket import websocket_connect

    client = AsyncHTTPClient()
    targets = json.loads((await client.fetch(f"http://127.0.0.1:{port}/json/list")).body)
    page = next(t for t in targets if t["type"] == "page")
    ws = await websocket_connect(page["webSocketDebuggerUrl"], max_message_size=64 * 2**20)
    counter = iter(range(1, 10**6))
    errors, pending = [], {}

    async def call(method, **params):
        ident = next(counter)
        ws.write_message(json.dumps({"id": ident, "method": method, "params": params}))
        while ident not in pending:
            await _read(ws, errors, pending)
        return pending.pop(ident)

    for domain in ("Runtime", "Log", "Page"):
        await call(f"{domain}.enable")
    await call("Page.navigate", url=path.as_uri())
    deadline = time.time() + timeout
    while not any(e == "loaded" for e in errors) and time.time() < deadline:
        await _read(ws, errors, pending)
    script = ("JSON.stringify({images: Array.from(document.images).map(i => [i.complete, i.naturalWidth]),"
              "title: document.title, text: document.body.innerText})")
    result = await call("Runtime.evaluate", expression=script, returnByValue=True)
    ws.close()
    found = json.loads(result["result"]["value"])
    return {**found, "errors": [e for e in errors if e != "loaded"]}


async def _read(ws, errors: list, pending: dict) -> None:
    message = json.loads(await ws.read_message())
    if "id" in message:
        pending[message["id"]] = message.get("result", message.get("error"))
        return
    method, params = message.get("method"), message.get("params", {})
    if method == "Page.loadEventFired":
        errors.append("loaded")
    elif method == "Runtime.exceptionThrown":
        errors.append(params["exceptionDetails"].get("exception", {}).get("description", "exception"))
    elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
    elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
        errors.append(params["entry"]["text"])
