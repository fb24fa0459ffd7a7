"""Page script: chat."""

from __future__ import annotations

from rag_app.ui.chat import chat_page

chat_page()
