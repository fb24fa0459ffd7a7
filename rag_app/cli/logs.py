"""Log levels of the ``rag`` command: warnings only, unless ``--verbose`` / ``--debug`` / ``--quiet``."""

from __future__ import annotations

import logging
import sys

from rag_app import quiet

# Libraries whose INFO lines (model loading, HTTP requests, gRPC) are noise at the default level.
THIRD_PARTY = (
    "httpx", "httpcore", "urllib3", "openai", "filelock", "sentence_transformers", "transformers",
    "huggingface_hub", "pymilvus", "milvus_lite", "grpc", "faiss", "bm25s", "streamlit", "uvicorn",
)  # fmt: skip


def configure(*, verbose: bool = False, debug: bool = False, quiet_mode: bool = False) -> int:
    """Set up logging for one command and return rag_app's level.

    Default: warnings and errors from rag_app and every library; Hugging Face
    progress bars and transformers warnings off. ``verbose``: rag_app's INFO lines
    too, and the libraries' warnings and progress bars. ``debug``: everything.
    ``quiet_mode``: errors only.
    """
    if debug:
        level = logging.DEBUG
    elif quiet_mode:
        level = logging.ERROR
    elif verbose:
        level = logging.INFO
    else:
        level = logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for name in THIRD_PARTY:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else max(level, logging.WARNING))
    if not debug:  # pymilvus logs handled failures and Lite's harmless fallbacks with tracebacks;
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # our errors already say what failed
    if not (verbose or debug):  # pypdf warns about each repair of a damaged PDF, naming no file; a PDF
        logging.getLogger("pypdf").setLevel(logging.ERROR)  # it cannot read is reported as a failed file
    quiet.set_verbose(verbose or debug)
    return level
