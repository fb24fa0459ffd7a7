"""Page script: documents."""

from __future__ import annotations

from rag_app.ui.documents import documents_page

documents_page()
