"""Browser tests: registers the ``e2e`` marker (also listed in pyproject) so --strict-markers accepts it."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives the Streamlit UI in a real headless Chromium (Playwright)")
