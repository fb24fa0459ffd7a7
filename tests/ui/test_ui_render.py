"""Pure rendering helpers and the pool's background warm-up."""

from __future__ import annotations

import time

from rag_app.ui import state
from rag_app.ui.citations import badge_markers, demote_headings, escape_math, timings_line
from tests.ui.conftest import UiEnv


def test_badges_headings_and_math() -> None:
    assert badge_markers("Quadratic [1], see also [2, 3].") == "Quadratic :blue-badge[1], see also :blue-badge[2, 3]."
    assert escape_math("costs $5 and $6") == r"costs \$5 and \$6"
    text = "# Title\n## Sub ##\nplain # not a heading\n```\n# code comment\n```"
    assert demote_headings(text) == "**Title**\n**Sub**\nplain # not a heading\n```\n# code comment\n```"


def test_timings_line() -> None:
    line = timings_line({"retrieve": 0.0123, "first_token": 1.5, "generate": 3.0, "total": 3.2})
    assert line == "retrieval 12 ms · first token 1.70 s · total 3.20 s"  # 0.2 s before generation + 1.5 s
    assert timings_line({"retrieve": 0.2, "total": 0.25}) == "retrieval 200 ms · total 250 ms"
    # with a judge, the first token counts from the question: retrieval + judge + generation's first piece
    judged = {"retrieve": 0.1, "prompt": 0.05, "judge": 4.0, "first_token": 0.3, "generate": 2.0, "total": 6.2}
    assert timings_line(judged) == "retrieval 100 ms · prompt 50 ms · judge 4.00 s · first token 4.50 s · total 6.20 s"


def test_pool_warms_up_in_the_background(ui_env: UiEnv) -> None:
    ui_env.generator.pieces = ["ok"]
    pool = state.PipelinePool()
    pool.get(ui_env.config, warmup=True)
    deadline = time.monotonic() + 10
    while pool.warming(ui_env.config) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not pool.warming(ui_env.config)
    assert len(ui_env.generator.calls) == 1  # the generator was loaded by one tiny generation
    pool.close_all()
