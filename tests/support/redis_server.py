"""A private redis-server for tests that stop and start Redis: its own free port and folder,
nothing saved to disk, never the shared Redis on 6379.

    with RedisServer(tmp_path) as server:
        server.url(0)          # redis://127.0.0.1:PORT/0
        server.kill()          # down: connections are refused
        server.start()         # back on the same port, empty
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Self

import pytest
import redis

from tests.support.processes import free_port


class RedisServer:
    """One redis-server subprocess on a loopback port that stays the same across restarts."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url(db), socket_connect_timeout=1, socket_timeout=2)

    def start(self) -> Self:
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.folder),
            "--save", "",
            "--appendonly", "no",
        ]  # fmt: skip
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return self
            except redis.ConnectionError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill: no goodbye to connected clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.kill()
