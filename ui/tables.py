"""Tables on the pages: full width, no index, numbers with three decimals."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import streamlit as st

from mmcrnet import CohortProblem

NUMBER = st.column_config.NumberColumn(format="%.3f")


ROW_PX = 35  # a data-frame row's height in the browser


def table(
    rows: Sequence[dict[str, Any]], numbers: Iterable[str] = (), all_rows: bool = False
) -> None:
    """``rows`` as a table; the columns named in ``numbers`` with three decimals; with
    ``all_rows`` tall enough to show every row without scrolling."""
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={n: NUMBER for n in numbers},
        height=(len(rows) + 1) * ROW_PX + 3 if all_rows else "auto",
    )


def problem_rows(problems: Iterable[CohortProblem]) -> list[dict[str, object]]:
    """Cohort problems as table rows: file, line, column, problem."""
    return [
        {"file": p.file, "line": p.row, "column": p.column, "problem": p.message} for p in problems
    ]
