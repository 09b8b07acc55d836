"""Screenshots of the home page in English, Russian, Persian and Simplified Chinese, at desktop
(1280 px) and phone (390 px) width, for a look at each language's layout (README "Languages").

    .venv/bin/python tests/support/screenshots.py [OUT_DIR]     # default: test-artifacts/screens

Serves the demo directory (fixtures/snapshot/) from a throwaway SQLite database under granian,
as production does, and drives Debian's Chromium; writes home-<language>-<desktop|phone>.png.
"""

from __future__ import annotations

import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.conftest import REPO
from tests.support import processes

CHROMIUM = "/usr/bin/chromium"
LANGUAGES = ["en", "ru", "fa", "zh-hans"]
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  (our loopback)
            return response.status == 200
    except OSError:
        return False


def take(base_url: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for language in LANGUAGES:
            prefix = "" if language == "en" else f"/{language}"
            for width_name, viewport in WIDTHS.items():
                context = browser.new_context(
                    viewport=viewport,
                    is_mobile=width_name == "phone",
                    locale=language,
                    color_scheme="light",
                )
                page = context.new_page()
                page.goto(f"{base_url}{prefix}/")
                page.wait_for_load_state("networkidle")
                path = out / f"home-{language}-{width_name}.png"
                page.screenshot(path=str(path))
                written.append(path)
                context.close()
        browser.close()
    return written


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="screens-") as workdir:
        work = Path(workdir)
        env = processes.django_env(
            f"sqlite:///{work / 'db.sqlite3'}",
            work / "var",
            DEBUG="false",
            SECURE_SSL_REDIRECT="false",
            SECRET_KEY="screenshots-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            STATIC_ROOT=str(work / "static"),
            ALLOWED_HOSTS="127.0.0.1",
            LOG_LEVEL="WARNING",
        )
        for command in (["migrate"], ["collectstatic", "--noinput"], ["load_demo"]):
            result = processes.manage(env, *command)
            if result.returncode != 0:
                raise SystemExit(f"manage.py {command[0]} failed:\n{result.stderr[-2000:]}")
        port = processes.free_port()
        with processes.Processes(work) as running:
            running.start("web", processes.web_server(port, threads=2), env)
            base_url = f"http://127.0.0.1:{port}"
            processes.wait_for(lambda: _serving(f"{base_url}/healthz"), 30, "the web server")
            for path in take(base_url, out):
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "test-artifacts" / "screens"))
