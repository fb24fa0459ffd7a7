"""Third-party output that rag_app turns off unless asked for.

Hugging Face libraries print progress bars while loading weights
(``Loading weights 0/103``), transformers logs warnings about details the
adapters already handle (``LOAD REPORT ... MISSING`` for tied weights, ``Token
indices sequence length is longer than ...`` when a long text is only counted),
and tokenizers warns after a fork. Importing ``rag_app`` sets the environment
variables those libraries read, each only when the user has not set it; set one
yourself (e.g. ``TRANSFORMERS_VERBOSITY=warning``) to see that output again.
``rag --verbose`` turns them back on for one command.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

# variable -> (quiet value, verbose value)
_SETTINGS: dict[str, tuple[str, str]] = {
    "HF_HUB_DISABLE_PROGRESS_BARS": ("1", "0"),
    "TRANSFORMERS_VERBOSITY": ("error", "warning"),
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": ("1", "0"),
    "TOKENIZERS_PARALLELISM": ("false", "false"),
}
_ours: set[str] = set()  # the variables set here (not by the user), which set_verbose may change


def library_defaults() -> None:
    """Quiet defaults for Hugging Face libraries; a variable the user set is left alone."""
    for name, (quiet, _) in _SETTINGS.items():
        if name not in os.environ:
            os.environ[name] = quiet
            _ours.add(name)


def set_verbose(verbose: bool) -> None:
    """Switch the variables rag_app set (not the user's) to their quiet or verbose value.

    Libraries imported already are switched through their own API, since they read
    the environment only on import.
    """
    library_defaults()
    for name in _ours:
        os.environ[name] = _SETTINGS[name][1 if verbose else 0]
    bars = "HF_HUB_DISABLE_PROGRESS_BARS" in _ours
    if "transformers" in sys.modules:
        hf_logging = importlib.import_module("transformers.utils.logging")
        if "TRANSFORMERS_VERBOSITY" in _ours:
            hf_logging.set_verbosity(logging.WARNING if verbose else logging.ERROR)
        if bars:
            hf_logging.enable_progress_bar() if verbose else hf_logging.disable_progress_bar()
    if "huggingface_hub" in sys.modules and bars:
        hf_tqdm = importlib.import_module("huggingface_hub.utils.tqdm")
        hf_tqdm.enable_progress_bars() if verbose else hf_tqdm.disable_progress_bars()


@contextlib.contextmanager
def gguf_conversion_bar() -> Iterator[None]:
    """Hide transformers' "Converting and de-quantizing GGUF tensors" bar while quiet.

    transformers draws it with plain ``tqdm`` (not its own progress-bar switch),
    so the bar is turned off for the duration of the load instead.
    """
    if os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS") != "1":
        yield
        return
    module: Any = importlib.import_module("transformers.modeling_gguf_pytorch_utils")
    original = module.tqdm
    module.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        module.tqdm = original
