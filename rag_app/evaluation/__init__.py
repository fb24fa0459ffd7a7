"""The eval harness: suites run through ``build_pipeline``: retrieval (queries + judgements) or answers.

Answer suites (``dataset: {type: answers}``: questions with key facts and expected
sources) are loaded by :mod:`.answer_suite` / :mod:`.answers`, scored by
:mod:`.answer_scoring` / :mod:`.answer_metrics`, run by :mod:`.answer_runner` and
reported by :mod:`.answer_report`, through the same ``run_eval``, gates and compare.

Entry points: :func:`rag_app.evaluation.harness.run_eval` (what ``rag eval SUITE``
does) and :func:`rag_app.evaluation.compare.compare_reports` (``rag eval compare``).
Heavy dependencies (ir-measures, matplotlib, scipy) are imported only when used.
"""

from __future__ import annotations
