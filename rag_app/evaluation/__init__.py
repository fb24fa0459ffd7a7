"""The eval harness: suites of queries + judgements run through ``build_pipeline``.

Entry points: :func:`rag_app.evaluation.harness.run_eval` (what ``rag eval SUITE``
does) and :func:`rag_app.evaluation.compare.compare_reports` (``rag eval compare``).
Heavy dependencies (ir-measures, matplotlib, scipy) are imported only when used.
"""

from __future__ import annotations
