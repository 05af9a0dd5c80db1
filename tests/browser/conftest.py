"""A real browser against the real app: Playwright (from PyPI) drives Debian's chromium; no browser is downloaded.

The app runs as `python app.py` in a subprocess on a free loopback port, with its runs and datasets in a temporary
folder (converted bundled models stay in the usual cache, so they are converted once per machine, not per run).
Tests skip with the reason when chromium or Playwright is missing, unless CQA_REQUIRE_BROWSER=1 (CI) turns that into
a failure. `make test-browser` installs both.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
APP_START_TIMEOUT_S = 180


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives the app in chromium (run with `make test-browser`)")


def _asked_for(config) -> bool:
    """True when the run names tests/browser (or a file in it) or selects `-m browser`: they take minutes."""
    here = Path(__file__).parent
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if path == here or here in path.parents:
            return True
    return "browser" in (config.option.markexpr or "") and "not browser" not in config.option.markexpr


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    asked = _asked_for(config)
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)
            if not asked:
                item.add_marker(pytest.mark.skip(reason="browser test: run `make test-browser` or "
                                                        "`pytest tests/browser`"))


def _missing(reason: str):
    if os.environ.get("CQA_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CQA_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


def find_chromium() -> str | None:
    """$CQA_CHROMIUM, else the first chromium on PATH (Debian's package installs /usr/bin/chromium)."""
    if os.environ.get("CQA_CHROMIUM"):
        return shutil.which(os.environ["CQA_CHROMIUM"])
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed: run `make test-browser` (pip install -r requirements-browser.txt)")
    executable = find_chromium()
    if executable is None:
        _missing("chromium is not installed and could not be installed: `apt-get install chromium` "
                 "(or set CQA_CHROMIUM to a chromium binary)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningApp:
    url: str
    runs_dir: Path
    data_dir: Path
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="session")
def app(browser, tmp_path_factory) -> RunningApp:
    """`python app.py` on a free port; its runs and datasets live in a temporary folder."""
    root = tmp_path_factory.mktemp("app")
    runs_dir, data_dir = root / "runs", root / "data"
    runs_dir.mkdir()
    data_dir.mkdir()
    port = _free_port()
    env = {**os.environ, "CQA_RUNS_DIR": str(runs_dir), "CQA_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
           "CQA_KNOWLEDGE_DIR": str(root / "knowledge"),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    for variable in ("OMP_NUM_THREADS", "GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT", "SPACE_ID"):
        env.pop(variable, None)  # the app picks its own threads and, started like this, serves loopback only
    log = root / "app.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
                                   cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    running = RunningApp(f"http://127.0.0.1:{port}/", runs_dir, data_dir, log)
    deadline = time.monotonic() + APP_START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"app.py exited with code {process.returncode}:\n{running.log_text()}", pytrace=False)
        try:
            with urllib.request.urlopen(running.url, timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"app.py did not answer within {APP_START_TIMEOUT_S} s:\n{running.log_text()}", pytrace=False)
        time.sleep(0.5)
    yield running
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def page(browser, app, tmp_path):
    """A fresh browser tab on the app's page; `page.shot(name)` saves a screenshot into the test's tmp folder."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.goto(app.url)
    tab.get_by_role("tab", name="Chat").wait_for()

    def shot(name: str) -> Path:
        path = tmp_path / f"{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        return path

    tab.shot = shot
    yield tab
    context.close()
