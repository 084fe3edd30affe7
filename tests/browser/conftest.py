"""Browser tests: Playwright for Python driving the system's Chromium (Debian `chromium`).

Playwright's own browser download is never used: CI machines and laptops behind a
proxy cannot fetch it, and Debian's build is patched and updated with the system.
Without /usr/bin/chromium (or $DEVLAB_CHROMIUM) the tests are skipped loudly, unless
DEVLAB_REQUIRE_DOCKER=1 (CI), where a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("DEVLAB_CHROMIUM", "/usr/bin/chromium"))
REQUIRED = os.environ.get("DEVLAB_REQUIRE_DOCKER") == "1"

# No sandbox: tests run as root in CI containers, where Chromium's sandbox cannot start.
# The rest keeps the browser from calling home (updates, sync, field trials), which
# would only add noise and delays on machines that reach few hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"DEVLAB_REQUIRE_DOCKER=1 but {reason}", pytrace=False)
    banner = f"\n{'!' * 78}\n!! BROWSER TESTS SKIPPED: {reason}\n{'!' * 78}"
    print(banner)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Chromium, shared by the session's browser tests."""
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: $DEVLAB_SCREENSHOTS, or the test's own tmp dir."""
    directory = Path(os.environ.get("DEVLAB_SCREENSHOTS") or tmp_path / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory
