"""Grounded prompting: numbered sources, citation parsing, question condensing, abstention."""

from __future__ import annotations

from rag_app.generation.abstain import ABSTAIN_MESSAGE, should_abstain
from rag_app.generation.citations import parse_citations
from rag_app.generation.condense import condense_question
from rag_app.generation.prompt import build_messages, source_location
from rag_app.generation.templates import (
    DEFAULT_TEMPLATE,
    PromptTemplate,
    load_template,
    parse_template,
    template_names,
)

__all__ = [
    "ABSTAIN_MESSAGE",
    "DEFAULT_TEMPLATE",
    "PromptTemplate",
    "build_messages",
    "condense_question",
    "load_template",
    "parse_citations",
    "parse_template",
    "should_abstain",
    "source_location",
    "template_names",
]
