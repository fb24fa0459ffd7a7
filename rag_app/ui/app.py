"""Streamlit entry point: ``rag ui`` runs ``streamlit run <this file> -- --config ...``.

This script is the frame around every page: page setup, the pipeline picker
in the sidebar, and navigation between Chat, Documents and Evaluation.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from rag_app.ui import state

VIEWS = Path(__file__).with_name("views")


def _config_picker() -> None:
    """Choose the pipeline config; pipelines are cached per file, so switching is instant after the first time."""
    settings = state.settings()
    choices = settings.config_choices()
    current = state.selected_config()
    if current not in choices:
        choices.append(current)
    with st.sidebar:
        picked = st.selectbox(
            "Pipeline config",
            choices,
            index=choices.index(current),
            format_func=lambda p: p.name,
            help=f"YAML files in {settings.configs_dir}",
            key="config_picker",
        )
    if picked is not None and picked != current:
        state.select_config(picked)


def main() -> None:
    st.set_page_config(page_title="rag_app", page_icon=":material/forum:", layout="centered")
    _config_picker()
    pages = [
        st.Page(VIEWS / "chat.py", title="Chat", icon=":material/forum:", default=True),
        st.Page(VIEWS / "documents.py", title="Documents", icon=":material/folder_open:"),
        st.Page(VIEWS / "evaluation.py", title="Evaluation", icon=":material/query_stats:"),
    ]
    st.navigation(pages).run()


main()
