"""Every Python block of README.md runs as written (against a small test pipeline instead of local.yaml).

A block is marked by an HTML comment on the line before its fence::

    <!-- runnable -->
    ```python

(``<!-- not runnable: REASON -->`` exempts one.) Before: the LangChain snippet
used ``RunnablePassthrough``, ``prompt`` and ``llm`` without defining or
importing them. The only substitutions are the
config path (a hashing + memory pipeline named ``local`` with the extractive
generator, in a tmp dir) and the `rag serve` URL (a server started here).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import fast_config_dict

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(
    r"^(?:<!-- (?P<marker>runnable|not runnable: [^>]+) -->\n)?```python\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL
)
SERVE_URL = "http://127.0.0.1:8000/v1"
CONFIG = "pipelines/local.yaml"


def python_blocks() -> list[tuple[int, str | None, str]]:
    """``(line, marker, code)`` for every fenced Python block; marker is None when there is none."""
    return [(README.count("\n", 0, m.start("code")) + 1, m.group("marker"), m.group("code"))
            for m in FENCE.finditer(README)]  # fmt: skip


RUNNABLE = [(line, code) for line, marker, code in python_blocks() if marker == "runnable"]


def test_every_python_block_is_marked() -> None:
    """A new example is run too, or says why not (``<!-- not runnable: needs an OpenAI key -->``)."""
    unmarked = [line for line, marker, _ in python_blocks() if marker is None]
    assert RUNNABLE and unmarked == [], f"README.md python blocks without <!-- runnable --> at lines {unmarked}"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("readme")
    data = fast_config_dict(root / "state")
    data.update(
        name="local",
        retrieval={"retrievers": [{"type": "dense"}, {"type": "bm25"}], "fusion": {"method": "weighted"}},
        generator={"type": "extractive"},
        answer={"min_score": 0.05},
    )
    path = root / "local.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    from rag_app import load_config
    from rag_app.pipeline import build_pipeline

    pipeline = build_pipeline(load_config(path))
    pipeline.ingest([REPO / "data" / "corpus"])
    pipeline.close()
    return path


@pytest.fixture(scope="module")
def serve_url(config: Path) -> Iterator[str]:
    pytest.importorskip("fastapi")
    from rag_app import load_config
    from rag_app.pipeline import build_pipeline
    from rag_app.server.app import create_app
    from tests.support.asgi_server import ThreadedServer

    pipeline = build_pipeline(load_config(config))
    with ThreadedServer(create_app(pipeline)) as server:
        yield f"{server.url}/v1"
    pipeline.close()


@pytest.mark.parametrize(("line", "code"), RUNNABLE, ids=[f"README.md:{line}" for line, _ in RUNNABLE])
def test_readme_block_runs(
    line: int, code: str, request: pytest.FixtureRequest, config: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert CONFIG in code or SERVE_URL in code, "a runnable block must use pipelines/local.yaml or rag serve's URL"
    code = code.replace(CONFIG, str(config))
    if SERVE_URL in code:
        code = code.replace(SERVE_URL, request.getfixturevalue("serve_url"))
    monkeypatch.chdir(REPO)  # paths in the snippets (data/corpus) are relative to the repository
    exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__main__"})
    printed = capsys.readouterr().out
    assert printed.strip(), "a README example shows its result"
    assert "Traceback" not in printed
