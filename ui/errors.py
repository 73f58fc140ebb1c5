"""Our own bugs in the app: the user sees an error id, the server log holds the traceback.

Bad input never comes here (the pages catch :class:`mmcrnet.OncoPredictError` and show its one
line); anything else is a fault of ours and must not be dressed up as the user's mistake.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit.logger import get_logger

LOG = get_logger("oncopredict")


def report_bug(exc: Exception) -> str:
    """Log ``exc`` with its traceback under a new error id and show the id; returns the id."""
    error_id = uuid.uuid4().hex[:8]
    LOG.error("error id %s: %s", error_id, exc, exc_info=exc)
    st.error(
        f"Something went wrong on our side (error id **{error_id}**). This is a fault in "
        "OncoPredict, not in your input: what you entered is kept, and the details are in the "
        "server log under this id. Please report it with the id.",
        icon=":material/bug_report:",
    )
    return error_id


@contextmanager
def bug_box() -> Iterator[None]:
    """Run a page body; a bug of ours becomes :func:`report_bug`'s box, never a redacted crash.

    Streamlit's own control flow (``st.stop``, reruns) derives from BaseException and passes.
    """
    try:
        yield
    except Exception as exc:
        report_bug(exc)
