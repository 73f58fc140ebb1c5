"""About: what OncoPredict is, its limits, and the bundled phantom example cases."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mmcrnet import DISCLAIMER, InvalidCohort, load_cohort
from ui.errors import bug_box

EXAMPLES = Path(__file__).resolve().parent.parent / "assets" / "examples"


@st.cache_data
def example_table() -> tuple[list[dict[str, str]], str | None]:
    """The bundled example cases (id, subtype, regimen, outcome), or an error line."""
    try:
        cohort = load_cohort(EXAMPLES)
    except InvalidCohort as exc:
        return [], f"The bundled examples could not be read: {exc}"
    table = cohort.outcomes
    if table is None:
        return [], "The bundled examples have no outcomes.csv"
    outcomes = dict(zip(table["case_id"], table["response"]))
    rows = [
        {
            "case": row.case_id,
            "ER %": row.er_percent,
            "HER2": row.her2_status,
            "grade": row.grade,
            "regimen": row.regimen,
            "outcome (truth)": outcomes[row.case_id],
        }
        for row in cohort.cases.itertuples(index=False)
    ]
    return rows, None


def page() -> None:
    """What OncoPredict is and the bundled example cases."""
    st.title("OncoPredict")
    st.error(DISCLAIMER, icon=":material/warning:")
    st.markdown(
        "OncoPredict predicts the response of a breast cancer to neoadjuvant chemotherapy "
        "(**pCR / partial / none**) from DCE-MRI or mammogram images plus clinical and genomic "
        "data at baseline and after each chemotherapy cycle, and explains each prediction.\n\n"
        "Its model, MM-CRNet, is trained on a **synthetic phantom cohort** whose ground truth is "
        "known, not on patients. It has not been validated on real patients."
    )
    st.subheader("Bundled phantom example cases")
    rows, problem = example_table()
    if problem:
        st.error(problem)
    else:
        st.dataframe(rows, hide_index=True, width="stretch")


with bug_box():  # a bug of ours: an error id here, the traceback in the server log
    page()
