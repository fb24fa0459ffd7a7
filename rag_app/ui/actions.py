"""What a user can do with the chat besides typing: example questions, copy an answer, regenerate it."""

from __future__ import annotations

import html
import json
import logging

import streamlit as st

from rag_app.errors import RagError
from rag_app.generation import source_location
from rag_app.pipeline import Pipeline
from rag_app.types import Answer, ScoredChunk
from rag_app.ui import state
from rag_app.ui.safe_markdown import inline

logger = logging.getLogger(__name__)

MAX_EXAMPLES = 3

# Copies the text of the hidden textarea next to the button. The script holds no data of its own:
# the answer reaches the page only as escaped text content, never as markup or code.
_COPY_SCRIPT = """<script>(() => {
  const button = document.getElementById(%(id)s);
  if (!button) return;
  button.onclick = async () => {
    const text = document.getElementById(%(text_id)s).value;
    try { await navigator.clipboard.writeText(text); button.dataset.state = "copied"; }
    catch (err) { button.dataset.state = "failed"; }
    setTimeout(() => { delete button.dataset.state; }, 1500);
  };
})();</script>"""


def example_questions(pipeline: Pipeline) -> list[str]:
    """The config's ``ui.example_questions``, else one question per document title (up to three)."""
    configured = [q.strip() for q in pipeline.config.ui.example_questions if q.strip()]
    if configured:
        return configured
    try:
        titles = [str(doc.get("title") or "").strip() for doc in pipeline.documents()]
    except RagError:
        return []
    questions: list[str] = []
    for title in titles:
        if not title or len(title) > 60 or inline(title) != title:
            continue  # long, or holding Markdown / HTML (an image in a heading): not a question to offer
        question = f"What is {title}?" if len(title.split()) <= 4 else f"What does “{title}” say?"
        if question not in questions:
            questions.append(question)
        if len(questions) == MAX_EXAMPLES:
            break
    return questions


def render_examples(pipeline: Pipeline) -> None:
    """Example questions on the empty chat page; a click asks one."""
    questions = example_questions(pipeline)
    if not questions:
        return
    st.caption("Try asking:")
    with st.container(horizontal=True, gap="small", key="rag-examples"):
        for number, question in enumerate(questions):
            st.button(
                inline(question),  # titles come from documents: a label renders Markdown images
                key=f"example-{number}",
                icon=":material/lightbulb:",
                on_click=state.ask_later,
                args=(question,),
            )


def copy_text(answer: Answer) -> str:
    """What 'Copy' puts on the clipboard: the answer, then the sources it cites."""
    if not answer.citations:
        return answer.text
    lines = [
        f"[{c.number}] {source_location(ScoredChunk(c.chunk, c.score))}" for c in answer.citations
    ]
    return answer.text.rstrip() + "\n\nSources:\n" + "\n".join(lines)


def copy_button(text: str, key: str) -> None:
    """A one-click 'Copy' button (the browser's clipboard API; the page is served from localhost)."""
    element = f"rag-copy-{key}"
    body = (
        f'<button type="button" class="rag-copy" id="{element}" title="Copy the answer and its sources">'
        f"Copy</button>"
        f'<textarea id="{element}-text" hidden readonly>{html.escape(text)}</textarea>'
        + _COPY_SCRIPT % {"id": json.dumps(element), "text_id": json.dumps(f"{element}-text")}
    )
    st.html(body, width="content", unsafe_allow_javascript=True)


def _regenerate(index: int) -> None:
    """Drop turn ``index`` (the last) and ask its question again."""
    turns = state.turns()
    if index != len(turns) - 1:
        return  # the conversation changed under the click
    turn = turns.pop()
    state.ask_later(turn.question)


def render_actions(turn: state.Turn, index: int, *, last: bool) -> None:
    """Copy (answered turns) and Regenerate (the last turn) under an answer."""
    with st.container(horizontal=True, gap="small", vertical_alignment="center", key=f"rag-actions-{index}"):
        if turn.answer is not None:
            copy_button(copy_text(turn.answer), f"turn{index}")
        if last:
            st.button(
                "Regenerate" if turn.answer is not None else "Retry",
                key=f"regenerate-{index}",
                icon=":material/refresh:",
                type="tertiary",
                help="Answer this question again",
                on_click=_regenerate,
                args=(index,),
            )
