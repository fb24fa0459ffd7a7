"""Streamlit entry point: ``rag ui`` runs ``streamlit run <this file> -- --config ...``.

This script is the frame around every page: page setup, the pipeline picker
in the sidebar, and navigation between Chat, Documents and Evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from rag_app.ui import state

if TYPE_CHECKING:
    from PIL.Image import Image

VIEWS = Path(__file__).with_name("views")

# Paths wrap instead of being clipped (citation popovers, the source panel); the cited passage is
# highlighted; the copy button looks like Streamlit's tertiary buttons. Style only: no script, no URL.
STYLE = """<style>
[data-testid="stPopoverBody"] code, [data-testid="stDialog"] code,
[data-testid="stPopoverBody"] [data-testid="stCaptionContainer"],
[data-testid="stDialog"] [data-testid="stCaptionContainer"] {
  white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word;
}
[data-testid="stPopoverBody"] { max-width: min(40rem, 92vw); }
.st-key-rag-cited { background: rgba(255, 196, 0, 0.16); border-color: rgba(255, 170, 0, 0.7) !important; }
.rag-copy {
  font: inherit; font-size: 0.875rem; color: inherit; background: transparent; border: none;
  border-radius: 0.5rem; padding: 0.25rem 0.5rem; cursor: pointer;
}
.rag-copy:hover { background: rgba(151, 166, 195, 0.15); }
.rag-copy[data-state="copied"]::after { content: " ✓"; }
.rag-copy[data-state="failed"]::after { content: " (not allowed by the browser)"; }
</style>"""


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


@st.cache_resource
def _favicon() -> Image:
    """The tab icon, drawn here and served by the app itself.

    A ``:material/...:`` page icon makes the browser fetch an SVG from
    fonts.gstatic.com: no request of this UI may leave its own origin.
    """
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((4, 8, 60, 48), radius=12, fill=(28, 131, 225, 255))
    draw.polygon([(16, 46), (16, 60), (30, 46)], fill=(28, 131, 225, 255))
    return image


def main() -> None:
    st.set_page_config(page_title="rag_app", page_icon=_favicon(), layout="centered")
    st.html(STYLE)
    _config_picker()
    pages = [
        st.Page(VIEWS / "chat.py", title="Chat", icon=":material/forum:", default=True),
        st.Page(VIEWS / "documents.py", title="Documents", icon=":material/folder_open:"),
        st.Page(VIEWS / "evaluation.py", title="Evaluation", icon=":material/query_stats:"),
    ]
    st.navigation(pages).run()


main()
