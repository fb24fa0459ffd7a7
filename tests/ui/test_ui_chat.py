"""Chat page: streamed answers with citation chips, abstention, errors, config switching."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from tests.ui.conftest import UiEnv


def test_smoke(ui_env: UiEnv, ask: Callable[[AppTest, str], AppTest]) -> None:
    at = ui_env.app().run()
    assert not at.exception, at.exception
    at = ask(at, "How does attention scale with sequence length?")
    assert not at.exception, at.exception
    print(at.main)
    for cm in at.chat_message:
        print("CM", cm.name, [type(c).__name__ for c in cm.children.values()])
    print(at.markdown)
    print(at.get("popover"))
    print(at.caption)
    print(at.error)
