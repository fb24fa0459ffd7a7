"""Page script: evaluation reports."""

from __future__ import annotations

from rag_app.ui.evaluation import evaluation_page

evaluation_page()
