"""The project installs from a built wheel: templates and static files ship with it, and it serves pages from a
fresh virtualenv outside the checkout."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, resp.read()


def test_a_wheel_installed_in_a_fresh_virtualenv_serves_the_login_page_and_its_static_files(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, ROOT, cwd=tmp_path)
    (wheel,) = wheels.glob("live-*.whl")

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    # The dependencies come from this test's own environment (no network needed); `live` itself only from the
    # wheel: a path added by a .pth line does not run that directory's own .pth files (our editable install).
    (purelib,) = (venv / "lib").glob("python3*/site-packages")
    (purelib / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVE_", "PYTHON"))}
    env["LIVE_DATABASE_URL"] = f"sqlite+aiosqlite:///{home / 'live.db'}"
    where = run(venv / "bin" / "python", "-c", "import live.web; print(live.web.__file__)", cwd=home, env=env)
    assert where.startswith(str(venv)), where

    port = free_port()
    log = (home / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(venv / "bin" / "live"), "serve", "--port", str(port)], cwd=home, env=env, stdout=log, stderr=log
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = get(base + "/healthz")
                break
            except OSError:
                assert server.poll() is None, (home / "serve.log").read_text()
                assert time.monotonic() < deadline, "the installed server never answered"
                time.sleep(0.3)
        status, page = get(base + "/login")
        assert status == 200 and b'name="password"' in page
        status, css = get(base + "/static/css/app.css")
        assert status == 200 and len(css) > 100
        status, client = get(base + "/static/vendor/socket.io.esm.min.js")
        assert status == 200 and b"io" in client
    finally:
        server.terminate()
        server.wait(timeout=30)
