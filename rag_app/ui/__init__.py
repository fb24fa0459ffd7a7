"""The Streamlit app (``rag ui``): chat with cited answers, documents, evaluation reports.

Only the public API is used: ``load_config``, ``build_pipeline`` and ``Pipeline``.
Importing this package does not import Streamlit; ``APP`` is the entry script.
"""

from __future__ import annotations

from pathlib import Path

APP = Path(__file__).with_name("app.py")

__all__ = ["APP"]
