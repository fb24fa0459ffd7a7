"""What a person reads from the CLI: --help text, `rag stats`, `rag doctor` (generator and BM25 checks)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from rag_app.cli import app
from rag_app.readable import fingerprint_line
from tests.conftest import fast_config_dict

runner = CliRunner()

COMMANDS = [
    [], ["ingest"], ["search"], ["stats"], ["ask"], ["chat"], ["serve"], ["ui"], ["doctor"], ["migrate"],
    ["eval"], ["eval", "run"], ["eval", "compare"], ["eval", "generate"],
]  # fmt: skip


def help_text(args: list[str]) -> str:
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "100", "NO_COLOR": "1"}, prog_name="rag")
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "rag")
def test_help_reads_as_written(args: list[str]) -> None:
    text = help_text(args)
    assert "{" not in _usage(text), "usage shows {name}, not NAME"
    assert "<bool>" not in text, "a flag takes no value"
    assert "<list[" not in text and "range>" not in text, "Python type names in help"
    assert "(env:" not in text, "the env var is shown twice"
    assert "``" not in text and "`" not in text, "RST/Markdown markup in help"
    assert text.count("[env var: RAG_CONFIG]") <= 1


def _usage(text: str) -> str:
    match = re.search(r"Usage: .*", text)
    assert match is not None
    return match.group(0)


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        (["search"], "Usage: rag search [OPTIONS] QUERY"),
        (["ingest"], "Usage: rag ingest [OPTIONS] PATHS..."),
        (["ask"], "Usage: rag ask [OPTIONS] QUESTION"),
        (["eval", "run"], "Usage: rag eval run [OPTIONS] SUITE"),
        (["eval", "compare"], "Usage: rag eval compare [OPTIONS] A B"),
    ],
)
def test_usage_line_names_arguments_in_capitals(args: list[str], usage: str) -> None:
    assert _usage(help_text(args)).strip() == usage


def test_option_rows_show_values_not_types() -> None:
    text = help_text(["search"])
    assert re.search(r"--where\s+-w\s+<field=value>", text)
    assert re.search(r"--json\s+machine-readable output", text)  # nothing between a flag and its help
    assert re.search(r"\*\s+QUERY\s+what to look for", text)
    assert "[env var: RAG_CONFIG]" in text
    assert "[x>=1]" in help_text(["eval", "run"]) and "<int>" in help_text(["eval", "run"])


def test_top_level_help_has_verbose() -> None:
    text = help_text([])
    assert re.search(r"--verbose\s+-v", text) and "--quiet" in text and "--debug" in text


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    data = fast_config_dict(tmp_path / "state")
    data["store"]["params"]["path"] = "../state/store"  # relative: printed resolved, not pipelines/../state
    data["retrieval"] = {"retrievers": [{"type": "dense"}, {"type": "bm25"}]}
    data["generator"] = {"type": "extractive"}
    path = tmp_path / "pipelines" / "unit.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_stats_prints_key_value_lines(config_file: Path, docs_dir: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["ingest", "-c", str(config_file), str(docs_dir)]).exit_code == 0
    result = runner.invoke(app, ["stats", "-c", str(config_file)])
    assert result.exit_code == 0, result.output
    lines = dict(re.split(r":\s+", line, maxsplit=1) for line in result.output.splitlines())
    assert lines["store"] == f"memory, at {(tmp_path / 'state' / 'store').resolve()}"
    assert lines["documents"] == "3"
    assert lines["embedder"] == "hashing-128 (128 dims, normalized)"
    assert lines["chunker"] == "recursive (chunk_overlap 10, chunk_size 60)"
    assert lines["manifest"].startswith(str(tmp_path.resolve())) and lines["manifest"].endswith(".json")
    assert "{" not in result.output and "'" not in result.output and "/../" not in result.output


def test_stats_before_any_ingest(config_file: Path) -> None:
    result = runner.invoke(app, ["stats", "-c", str(config_file)])
    assert result.exit_code == 0, result.output
    assert "fingerprint: none yet (nothing ingested)" in result.output
    assert "manifest:    none yet" in result.output and "None" not in result.output


def test_fingerprint_line_is_one_readable_line() -> None:
    fp: dict[str, Any] = {"chunker": {"chunk_overlap": 30, "chunk_size": 200, "type": "markdown"},
                          "dimension": 384, "embedder": "all-MiniLM-L6-v2", "normalized": True}  # fmt: skip
    assert fingerprint_line(fp) == (
        "embedder all-MiniLM-L6-v2 (384 dims, normalized); chunker markdown (chunk_overlap 30, chunk_size 200)"
    )


def doctor(config: Path) -> dict[str, dict[str, str]]:
    result = runner.invoke(app, ["doctor", "-c", str(config), "--json"])
    return {r["check"]: r for r in json.loads(result.stdout)}


def test_doctor_checks_generator_and_bm25(config_file: Path, docs_dir: Path) -> None:
    assert runner.invoke(app, ["ingest", "-c", str(config_file), str(docs_dir)]).exit_code == 0
    checks = doctor(config_file)
    assert checks["generator usable"] == {"check": "generator usable", "ok": "yes",
                                          "detail": "extractive: loads and generates"}  # fmt: skip
    assert checks["sparse index"]["ok"] == "yes"
    assert re.fullmatch(r"bm25: \d+ chunks indexed, in step with the store", checks["sparse index"]["detail"])
    assert checks["dependencies installed"]["detail"].endswith("retriever=dense, retriever=bm25, generator=extractive")
    text = runner.invoke(app, ["doctor", "-c", str(config_file)]).output
    assert "[ok ] generator usable: extractive: loads and generates" in text
    assert "/../" not in text


def test_doctor_before_the_first_ingest_reports_an_empty_sparse_index_as_fine(config_file: Path) -> None:
    result = runner.invoke(app, ["doctor", "-c", str(config_file)])
    assert "[ok ] sparse index: bm25: empty, nothing ingested yet" in result.output
    assert "[FAIL] sparse index" not in result.output


def test_doctor_fails_when_bm25_index_is_missing(config_file: Path, docs_dir: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["ingest", "-c", str(config_file), str(docs_dir)]).exit_code == 0
    for folder in (tmp_path / "state").glob("bm25-*"):
        for file in folder.iterdir():
            file.unlink()
    result = runner.invoke(app, ["doctor", "-c", str(config_file)])
    assert result.exit_code == 1
    assert re.search(r"\[FAIL\] sparse index: BM25\w*: it was committed at no generation, the sync manifest is at "
                     r"generation \d+; run rag ingest to rebuild it from the store", result.output)  # fmt: skip


def test_doctor_fails_on_missing_gguf_and_missing_key(config_file: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    data["generator"] = {"type": "llama_cpp", "params": {"model": str(tmp_path / "missing.gguf")}}
    config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    check = doctor(config_file)["generator usable"]
    assert check["ok"] == "no"
    assert "missing.gguf" in check["detail"] and "\n" not in check["detail"]

    data["generator"] = {"type": "openai", "params": {"api_key_env": "RAG_TEST_NO_SUCH_KEY"}}
    config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    check = doctor(config_file)["generator usable"]
    assert check == {"check": "generator usable", "ok": "no",
                     "detail": "$RAG_TEST_NO_SUCH_KEY is not set: export it or add it to .env"}  # fmt: skip


def test_llama_build_note_suggests_the_native_build_only_where_it_helps() -> None:
    from rag_app.cli.doctor_checks import llama_build_note

    wheel = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | OPENMP = 1 |"
    native = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 | OPENMP = 1 |"
    assert llama_build_note(wheel, frozenset({"avx2", "avx512f"})) == (
        "llama.cpp built for AVX2 on an AVX-512 CPU: `make native-llm` reads prompts ~1.7x faster")
    assert llama_build_note(wheel, frozenset({"avx2"})) == "llama.cpp built for AVX2"
    assert llama_build_note(native, frozenset({"avx2", "avx512f"})) == "llama.cpp built for AVX-512"
    assert llama_build_note("CPU : SSE3 = 1 |", frozenset()) == "llama.cpp built without AVX2"


def test_doctor_names_the_installed_llama_cpp_build(config_file: Path) -> None:
    xllamacpp = pytest.importorskip("xllamacpp")
    from rag_app.cli.doctor_checks import cpu_flags, llama_build_note

    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    data["generator"] = {"type": "llama_cpp", "params": {"model": "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF"}}
    config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    check = doctor(config_file)["generator usable"]
    if check["ok"] == "no":
        pytest.skip(f"the packaged 0.5B GGUF is not installed here: {check['detail']}")
    expected = llama_build_note(xllamacpp.get_system_info(), cpu_flags())
    assert check["detail"].startswith("llama_cpp: Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF, ")
    assert check["detail"].endswith(f"; {expected}")
    text = runner.invoke(app, ["doctor", "-c", str(config_file)]).output
    assert f"{expected}\n" in text


def test_doctor_without_generator_says_so(tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(fast_config_dict(tmp_path / "state")), encoding="utf-8")
    checks = doctor(path)
    assert checks["generator usable"]["detail"].startswith("none configured")
    assert checks["sparse index"]["detail"] == "no sparse retriever configured (dense only)"


def test_migrate_fingerprint_error_reads_as_text(tmp_path: Path) -> None:
    from rag_app.config import parse_config
    from rag_app.errors import FingerprintMismatchError
    from rag_app.migrate import _check_target_config
    from rag_app.pipeline import build_pipeline

    target = build_pipeline(parse_config(fast_config_dict(tmp_path), base_dir=tmp_path))
    source = {**target.fingerprint(), "embedder": "all-MiniLM-L6-v2", "dimension": 384,
              "chunker": {"type": "markdown", "chunk_size": 200}}  # fmt: skip
    with pytest.raises(FingerprintMismatchError) as caught:
        _check_target_config(target, source)
    message = str(caught.value)
    assert "embedder all-MiniLM-L6-v2 vs hashing-128; dimension 384 vs 128" in message
    assert "chunker markdown (chunk_size 200) vs recursive (chunk_size 60, chunk_overlap 10)" in message
    assert "{" not in message and "'" not in message
