"""Load from wrk (a C load generator, Debian's `wrk`): requests per second, p50/p99, errors.

A Python client on the same two cores would spend as much CPU as the server it measures; wrk
spends a fraction of a core. `ensure_wrk()` installs it with apt when it is missing. POST bodies
(onion requests) are sent from files through a small Lua script, rotating among several.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class WrkResult:
    name: str
    connections: int
    requests: int
    seconds: float
    rps: float
    p50: float  # milliseconds
    p99: float
    errors: int  # socket errors plus responses outside 2xx/3xx
    bytes_per_request: float

    def line(self) -> str:
        return (
            f"{self.name:<42} {self.connections:>3} clients  {self.rps:>8.1f} req/s  "
            f"p50 {self.p50:>7.2f} ms  p99 {self.p99:>7.2f} ms  {self.requests} requests, "
            f"{self.errors} errors"
        )


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: installing Debian's package", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


_POST_SCRIPT = """
local bodies = {}
local index = 0
for path in io.lines("%(list)s") do
  local file = io.open(path, "rb")
  bodies[#bodies + 1] = file:read("*a")
  file:close()
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
request = function()
  index = index %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[index])
end
"""


def run_wrk(
    name: str,
    url: str,
    *,
    connections: int = 50,
    seconds: float = 10,
    threads: int = 2,
    headers: dict[str, str] | None = None,
    bodies: list[bytes] | None = None,
    settle: float = 1.0,
) -> WrkResult:
    """Drive `url` for `seconds` with `connections` keep-alive connections, after `settle`
    seconds of quiet (so one run's aftermath, such as the memory a run of megabyte bodies
    churned, is not measured in the next)."""
    time.sleep(settle)
    command = [
        ensure_wrk(), "--latency", "--timeout", "10s",
        "-t", str(min(threads, connections)), "-c", str(connections), "-d", f"{seconds:g}s",
    ]  # fmt: skip
    for key, value in (headers or {}).items():
        command += ["-H", f"{key}: {value}"]
    with tempfile.TemporaryDirectory(prefix="wrk-") as workdir:
        if bodies:
            paths = []
            for number, body in enumerate(bodies):
                path = Path(workdir) / f"body-{number}"
                path.write_bytes(body)
                paths.append(str(path))
            listing = Path(workdir) / "bodies.txt"
            listing.write_text("\n".join(paths) + "\n")
            script = Path(workdir) / "post.lua"
            script.write_text(_POST_SCRIPT % {"list": listing})
            command += ["-s", str(script)]
        command.append(url)
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return parse(name, connections, output)


def parse(name: str, connections: int, output: str) -> WrkResult:
    """Read wrk's --latency report."""
    requests, seconds, size = re.search(
        r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+\w+) read", output
    ).group(1, 2, 4)
    duration = float(seconds) * _UNITS[re.search(r"requests in [\d.]+(\w+)", output).group(1)]
    errors = sum(
        int(count)
        for count in re.findall(r"(?:connect|read|write|timeout) (\d+)", output)
        + re.findall(r"Non-2xx or 3xx responses: (\d+)", output)
    )
    count = int(requests)
    return WrkResult(
        name=name,
        connections=connections,
        requests=count,
        seconds=duration / 1000,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50=_latency(output, "50%"),
        p99=_latency(output, "99%"),
        errors=errors,
        bytes_per_request=_bytes(size) / max(count, 1),
    )


def _latency(output: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(\w+)", output).group(1, 2)
    return float(value) * _UNITS[unit]


def _bytes(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).group(1, 2)
    return float(value) * {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[unit]
