"""Tables on the pages: full width, no index, numbers with three decimals."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import streamlit as st

from mmcrnet import CohortProblem

NUMBER = st.column_config.NumberColumn(format="%.3f")


def table(rows: Sequence[dict[str, Any]], numbers: Iterable[str] = ()) -> None:
    """``rows`` as a table; the columns named in ``numbers`` with three decimals."""
    st.dataframe(rows, hide_index=True, width="stretch", column_config={n: NUMBER for n in numbers})


def problem_rows(problems: Iterable[CohortProblem]) -> list[dict[str, object]]:
    """Cohort problems as table rows: file, line, column, problem."""
    return [
        {"file": p.file, "line": p.row, "column": p.column, "problem": p.message} for p in problems
    ]
