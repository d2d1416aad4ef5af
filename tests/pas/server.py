"""A real uvicorn subprocess on a loopback port (the service as clients see it)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(data_dir: Path, database_url: str | None, port: int, **extra: str) -> dict:
    # Authorization off unless a test asks for it (tests/auth/ covers it, with tokens).
    env = {**os.environ, "DATA_DIR": str(data_dir), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           "LOG_LEVEL": "WARNING", "AUTH_DISABLED": "true",
           "EHR_ALLOWED_ORIGINS": "https://*,http://127.0.0.1:*,http://localhost:*", **extra}
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


class Server:
    def __init__(self, data_dir: Path, database_url: str | None, workers: int = 1, **extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "uvicorn", "service.app:app", "--host", "127.0.0.1",
               "--port", str(self.port), "--log-level", "warning", "--workers", str(workers)]
        self.log = open(data_dir.parent / f"server-{self.port}.log", "wb")
        data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=server_env(data_dir, database_url,
                                                                    self.port, **extra),
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def kill(self) -> None:
        """SIGKILL the whole process group (uvicorn and its workers): no clean shutdown."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@contextmanager
def running_server(data_dir: Path, database_url: str | None, workers: int = 1, **extra: str):
    server = Server(data_dir, database_url, workers, **extra)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
