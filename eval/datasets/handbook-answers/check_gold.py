"""Mechanical check of the handbook answer gold set (questions.jsonl).

Run from the repository root:

    .venv/bin/python eval/datasets/handbook-answers/check_gold.py

The corpus files are read with the project's own loaders (the same registry
and extension mapping that ingestion uses), so PDF, DOCX and HTML text is the
text the pipeline sees. Checks:

* schema: fields, types, unique ids, known kinds, answerable/unanswerable shape;
* every fact of an answerable question has at least one alternative that
  occurs in the text of one of its sources (case-insensitive, whitespace
  collapsed: the rule answers are meant to be scored with);
* the reference answer contains every fact, and no fact is given away by
  the question itself;
* multi_hop questions cite two or more files;
* near_miss / false_premise questions: strings that would answer them occur
  in no corpus file (ABSENT), and for false premises the statement that
  contradicts the premise is really in the named file (CONTRADICTED);
* minimum counts and coverage of every corpus folder.

The held-out set in ../handbook-answers-heldout/ (ids h001..., hu01...) is
checked by the same script:

    .venv/bin/python eval/datasets/handbook-answers/check_gold.py \
        --questions eval/datasets/handbook-answers-heldout/questions.jsonl

A file whose ids all start with "h" is taken to be the held-out set (or pass
``--set heldout``): it is held to the smaller MIN_COUNTS_HELDOUT, only the
ABSENT/CONTRADICTED entries of hu* ids are required to be present, and no
held-out question may repeat a question of the main set.

Exit status 0 when everything passes, 1 on any failure (each printed).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag_app import registry
from rag_app.config import SourcesConfig
from rag_app.errors import InputError

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

ANSWERABLE_KINDS = frozenset({"number", "definition", "mechanism", "comparison", "multi_hop", "list"})
UNANSWERABLE_KINDS = frozenset({"off_topic", "near_miss", "false_premise"})
HARD_KINDS = frozenset({"near_miss", "false_premise"})
MIN_COUNTS = {"answerable": 50, "unanswerable": 20, "hard": 12, "number": 12, "multi_hop": 8}
# The held-out set (../handbook-answers-heldout/) is smaller: 40 questions.
MIN_COUNTS_HELDOUT = {"answerable": 25, "unanswerable": 10, "hard": 8, "number": 10, "multi_hop": 3}
MAIN_QUESTIONS = HERE / "questions.jsonl"
_WS = re.compile(r"\s+")

# Strings that would answer a near-miss/false-premise question if the corpus
# contained them; none may occur in any corpus file.
ABSENT: dict[str, list[str]] = {
    "u007": ["Llama 3 supports", "Llama 3 has a context", "128K", "128k", "8K context", "8k context"],
    "u008": ["Chinchilla was trained with", "Chinchilla used a learning rate", "Chinchilla's learning rate"],
    "u009": ["GPU-days", "GPU days", "GPU hours", "GPU-hours", "V100", "A100", "H100"],
    "u010": ["default efSearch", "efSearch defaults", "efSearch = ", "efSearch of "],
    "u011": ["GPT-4 scores", "GPT-4 achieves", "GPT-4 reaches", "MMLU score of"],
    "u012": ["text-embedding-3-large"],
    "u013": ["BERT-large", "BERT large"],
    "u014": ["LangChain", "RecursiveCharacterTextSplitter"],
    "u015": ["Mistral 7B has", "Mistral 7B |", "Mistral 7B uses 32"],
    "u016": ["Codex"],
    "u017": ["reward model has", "reward model with", "6B reward", "6-billion"],
    "u018": ["clip range", "clipping range", "clip ratio", "clipped surrogate", "clipping parameter"],
    "u019": ["SciFact"],
    "u020": ["GPT-2 reaches", "GPT-2 achieves", "perplexity of GPT-2", "GPT-2's perplexity"],
    "u027": ["200 tokens per parameter", "200 training tokens"],
    "u028": ["operations become linear", "linear number of operations"],
    # held-out set (../handbook-answers-heldout/questions.jsonl)
    "hu01": ["Llama 3 8B uses", "Llama 3 8B has", "Llama 3 uses 8", "Llama 3 has 8", "Llama 3 8B, with"],
    "hu02": ["46 languages", "46 natural", "BLOOM was trained", "BLOOM is trained", "BLOOM supports", "BLOOM covers"],
    "hu03": ["WebText", "40 GB", "40GB", "GPT-2 was trained on", "GPT-2 was pre-trained"],
    "hu04": ["Guanaco"],
    "hu05": ["Cobbe", "GSM8K was", "GSM8K is from", "introduced GSM8K", "released GSM8K", "GSM8K (20"],
    "hu06": ["slope is learned", "slopes are learned", "learned slope", "learns the slope", "learned per head"],
    "hu07": ["W is updated", "updates W directly", "modifies W", "W is modified"],
    "hu08": ["slightly different", "differ slightly"],
    "hu09": ["IVF index needs no training", "IVF needs no training", "no training for IVF"],
}

# False premises: (file, strings that state the opposite); all must be in the file.
CONTRADICTED: dict[str, tuple[str, list[str]]] = {
    "u021": ("neural-networks/normalisation-and-residual-connections.pdf", ["works poorly for transformers"]),
    "u022": ("training/lora.md", ["Hu et al., Microsoft, 2021"]),
    "u023": ("training/rlhf-and-dpo.docx", ["without a separate reward model and without reinforcement learning"]),
    "u024": ("transformers/positional-encodings.pdf", ["RoPE does not add anything to the token embeddings"]),
    "u025": ("training/rlhf-and-dpo.docx", ["It has three stages."]),
    "u026": ("tokenisation/byte-pair-encoding.md", ["GPT-2's vocabulary has 50,257 entries"]),
    "u027": ("training/scaling-laws.pdf", ["about 20 training tokens per parameter"]),
    "u028": ("transformers/self-attention.md", ["the number of operations is still quadratic"]),
    # held-out set (../handbook-answers-heldout/questions.jsonl)
    "hu06": ("transformers/positional-encodings.pdf", ["The slope m is fixed, not learned"]),
    "hu07": (
        "training/lora.md",
        ["The pretrained weight W is frozen. It receives no gradient and is never modified during training."],
    ),
    "hu08": ("transformers/kv-cache.txt", ["The cached outputs are identical to recomputing everything"]),
    "hu09": (
        "rag/embeddings-and-vector-search.pdf",
        ["Unlike HNSW, an IVF index must be trained on a sample of vectors before data is added."],
    ),
}


def is_heldout_id(qid: str) -> bool:
    """Ids of the held-out set start with "h" (h001..., hu01...); the main set uses a001... and u001...."""
    return qid.startswith("h")


def normalise(text: str) -> str:
    """Lower case with every run of whitespace collapsed to one space (the fact-matching rule)."""
    return _WS.sub(" ", text).strip().lower()


def contains(haystack_normalised: str, needle: str) -> bool:
    """True when ``needle`` occurs in the already-normalised ``haystack_normalised``."""
    return normalise(needle) in haystack_normalised


class Corpus:
    """Normalised text of corpus files, loaded on demand with the pipeline's loaders."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sources = SourcesConfig()
        self._texts: dict[str, str] = {}

    def files(self) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".") and self._sources.loader_for(p.suffix) is not None
        )

    def text(self, rel: str) -> str:
        if rel not in self._texts:
            path = self.root / rel
            spec = self._sources.loader_for(path.suffix)
            if spec is None:
                raise InputError(f"{rel}: no loader for {path.suffix!r}")
            loader = registry.create("loader", spec.type, spec.params)
            docs = loader.load(path, source=rel, doc_id=rel)
            self._texts[rel] = normalise("\n".join(doc.text for doc in docs))
        return self._texts[rel]


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)

    def fail(self, qid: str, message: str) -> None:
        self.failures.append(f"{qid}: {message}")


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def check_schema(row: dict[str, Any], report: Report) -> bool:
    qid = str(row.get("id", "?"))
    required = {"id", "question", "answerable", "facts", "sources", "reference", "kind"}
    missing = required - row.keys()
    if missing:
        report.fail(qid, f"missing fields {sorted(missing)}")
        return False
    ok = True
    if not isinstance(row["question"], str) or not row["question"].strip():
        report.fail(qid, "empty question")
        ok = False
    if row["answerable"] is True:
        if row["kind"] not in ANSWERABLE_KINDS:
            report.fail(qid, f"kind {row['kind']!r} is not an answerable kind {sorted(ANSWERABLE_KINDS)}")
            ok = False
        facts = row["facts"]
        if not isinstance(facts, list) or not facts or not all(_is_str_list(f) and f for f in facts):
            report.fail(qid, "facts must be a non-empty list of non-empty lists of strings")
            ok = False
        if not _is_str_list(row["sources"]) or not row["sources"]:
            report.fail(qid, "sources must be a non-empty list of paths")
            ok = False
        if not isinstance(row["reference"], str) or not row["reference"].strip():
            report.fail(qid, "empty reference")
            ok = False
        if row["kind"] == "multi_hop" and len(set(row["sources"])) < 2:
            report.fail(qid, "multi_hop needs at least two sources")
    elif row["answerable"] is False:
        if row["kind"] not in UNANSWERABLE_KINDS:
            report.fail(qid, f"kind {row['kind']!r} is not an unanswerable kind {sorted(UNANSWERABLE_KINDS)}")
            ok = False
        if row["facts"] != [] or row["sources"] != [] or row["reference"] != "":
            report.fail(qid, "unanswerable questions need facts [], sources [] and reference ''")
            ok = False
        if not isinstance(row.get("why"), str) or not row["why"].strip():
            report.fail(qid, "unanswerable questions need a 'why'")
            ok = False
    else:
        report.fail(qid, "answerable must be true or false")
        ok = False
    return ok


def check_answerable(row: dict[str, Any], corpus: Corpus, report: Report, *, verbose: bool = False) -> None:
    qid = row["id"]
    texts: list[str] = []
    for rel in row["sources"]:
        if not (corpus.root / rel).is_file():
            report.fail(qid, f"source {rel} does not exist under {corpus.root}")
            continue
        texts.append(corpus.text(rel))
    question = normalise(row["question"])
    reference = normalise(row["reference"])
    for fact in row["facts"]:
        if not any(contains(text, alt) for alt in fact for text in texts):
            report.fail(qid, f"fact {fact} occurs in none of {row['sources']}")
        elif verbose:
            paraphrases = [alt for alt in fact if not any(contains(text, alt) for text in texts)]
            if paraphrases:
                print(f"info {qid}: paraphrase alternatives (not verbatim in the sources): {paraphrases}")
        if not any(contains(reference, alt) for alt in fact):
            report.fail(qid, f"reference does not state fact {fact}")
        given = [alt for alt in fact if contains(question, alt)]
        if given:
            report.fail(qid, f"fact {fact} is given away by the question ({given})")


def check_unanswerable(row: dict[str, Any], corpus: Corpus, report: Report) -> None:
    qid = row["id"]
    if row["kind"] not in HARD_KINDS:
        return
    if qid not in ABSENT and qid not in CONTRADICTED:
        report.fail(qid, f"{row['kind']} question without an ABSENT or CONTRADICTED entry in check_gold.py")
    for term in ABSENT.get(qid, []):
        hits = [rel for rel in corpus.files() if contains(corpus.text(rel), term)]
        if hits:
            report.fail(qid, f"{term!r} occurs in {hits}: the corpus may answer it")
    if qid in CONTRADICTED:
        rel, statements = CONTRADICTED[qid]
        for statement in statements:
            if not contains(corpus.text(rel), statement):
                report.fail(qid, f"contradicting statement {statement!r} not found in {rel}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--questions", type=Path, default=HERE / "questions.jsonl")
    parser.add_argument("--corpus", type=Path, default=REPO / "data" / "corpus")
    parser.add_argument("--verbose", action="store_true", help="also list fact alternatives that are paraphrases")
    parser.add_argument(
        "--set",
        choices=("auto", "main", "heldout"),
        default="auto",
        help="which gold set the file is (minimum counts, ABSENT/CONTRADICTED entries); "
        "auto: heldout when every id starts with 'h'",
    )
    args = parser.parse_args(argv)

    report = Report()
    corpus = Corpus(args.corpus)
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(args.questions.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            report.fail(f"line {number}", f"not JSON ({exc})")
            continue
        if not isinstance(row, dict):
            report.fail(f"line {number}", "not a JSON object")
            continue
        rows.append(row)

    ids = Counter(str(r.get("id")) for r in rows)
    auto_heldout = bool(ids) and all(is_heldout_id(qid) for qid in ids)
    heldout = auto_heldout if args.set == "auto" else args.set == "heldout"
    for qid, n in ids.items():
        if n > 1:
            report.fail(qid, f"id used {n} times")
    questions = Counter(normalise(str(r.get("question", ""))) for r in rows)
    for question, n in questions.items():
        if n > 1:
            report.fail("duplicate", f"question asked {n} times: {question!r}")
    for qid in sorted(set(ABSENT) | set(CONTRADICTED)):
        if is_heldout_id(qid) != heldout:
            continue  # an entry of the other gold set
        if qid not in ids:
            report.fail(qid, "named in ABSENT/CONTRADICTED but not in the questions")

    if heldout and args.questions.resolve() != MAIN_QUESTIONS.resolve() and MAIN_QUESTIONS.is_file():
        main_questions = {
            normalise(str(json.loads(line).get("question", "")))
            for line in MAIN_QUESTIONS.read_text(encoding="utf-8").splitlines()
            if line.strip()
        }
        for r in rows:
            if normalise(str(r.get("question", ""))) in main_questions:
                report.fail(str(r.get("id", "?")), "held-out question repeats a question of the main set")

    valid = [r for r in rows if check_schema(r, report)]
    for row in valid:
        if row["answerable"]:
            check_answerable(row, corpus, report, verbose=args.verbose)
        else:
            check_unanswerable(row, corpus, report)

    kinds = Counter(r["kind"] for r in valid)
    answerable = sum(1 for r in valid if r["answerable"])
    counts = {
        "answerable": answerable,
        "unanswerable": len(valid) - answerable,
        "hard": sum(kinds[k] for k in HARD_KINDS),
        "number": kinds["number"],
        "multi_hop": kinds["multi_hop"],
    }
    for name, minimum in (MIN_COUNTS_HELDOUT if heldout else MIN_COUNTS).items():
        if counts[name] < minimum:
            report.fail("counts", f"{name}: {counts[name]} < {minimum}")
    cited = {rel for r in valid for rel in r["sources"]}
    for folder in sorted({rel.split("/")[0] for rel in corpus.files()}):
        if not any(rel.startswith(folder + "/") for rel in cited):
            report.fail("coverage", f"no question cites a file in {folder}/")
    uncited = [rel for rel in corpus.files() if rel not in cited]

    print(f"{len(rows)} questions: {answerable} answerable, {len(valid) - answerable} unanswerable")
    print("per kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    print(
        f"corpus files cited: {len(cited)} of {len(corpus.files())}" + (f" (not cited: {uncited})" if uncited else "")
    )
    for failure in report.failures:
        print(f"FAIL {failure}")
    print("OK" if not report.failures else f"{len(report.failures)} failure(s)")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
