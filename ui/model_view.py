"""The Model page's sections: the card (TRIPOD+AI items), Tables 2 and 4 with the references,
the evaluation plots, subgroup metrics, global feature importance against the truth, and the
explanation checks. Each chart has its numbers in a table or a sentence beside it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from mmcrnet import DISCLAIMER
from mmcrnet.explain import feature_label
from mmcrnet.model_card import (
    ModelDocuments,
    breakdown_rows,
    card_items,
    check_rows,
    importance_rows,
    table_rows,
)
from mmcrnet.workspace import BUNDLED_MODEL, Workspace
from ui import evaluation_figures as figures
from ui import state
from ui.tables import table


def card_ui(docs: ModelDocuments) -> None:
    """The model card, one expander per TRIPOD+AI item (the first two open)."""
    st.subheader("Model card")
    st.caption("Items in the order of the TRIPOD+AI reporting guideline (BMJ 2024).")
    for index, item in enumerate(card_items(docs)):
        with st.expander(item.title, expanded=index < 2):
            st.markdown(item.text)


def tables_ui(evaluation: dict[str, Any]) -> None:
    """Tables 2 and 4 and the references, with the paper's figures for side-by-side reading."""
    st.subheader("Tables 2 and 4")
    test = evaluation.get("test", {})
    st.caption(
        f"On {test.get('description', 'the test set')} (n={test.get('n', '?')}), "
        f"{evaluation.get('condition', '')}. The paper's figures are on its private data."
    )
    numbers = ("accuracy", "macro AUC", "macro F1", "ECE")
    for title, key in (
        ("Table 2: MM-CRNet against the baselines", "table2"),
        ("Table 4: MM-CRNet retrained without one modality", "table4"),
        (
            "References: the oracle (the truth's own probabilities) and the latent reference "
            "(logistic regression on the data plus the true image latents)",
            "references",
        ),
    ):
        st.markdown(f"**{title}**")
        table(table_rows(evaluation, key), numbers)


def plots_ui(evaluation: dict[str, Any]) -> None:
    """ROC, confusion matrix and reliability diagram of the main model."""
    curves = evaluation.get("curves")
    st.subheader("Discrimination and calibration")
    if not curves:
        st.info(
            "This evaluation predates the curves: run `python -m mmcrnet evaluate "
            "--phantom-test 2000` to add the ROC, confusion matrix and reliability data."
        )
        return
    roc, confusion, reliability = st.columns(3)
    with roc:
        st.plotly_chart(figures.roc_figure(curves), width="stretch")
        st.caption(
            "AUC per outcome: "
            + ", ".join(
                f"{c['outcome']} {c['auc']:.3f}" for c in curves["roc"] if c["auc"] is not None
            )
        )
    with confusion:
        st.plotly_chart(figures.confusion_figure(curves), width="stretch")
        st.caption(
            "Rows are the true outcome: "
            + "; ".join(
                f"{o}: " + ", ".join(str(v) for v in row)
                for o, row in zip(curves["outcomes"], curves["confusion"])
            )
            + " (predicted pCR, partial, none)."
        )
    with reliability:
        st.plotly_chart(figures.reliability_figure(curves), width="stretch")
        ece = evaluation.get("calibration", {}).get("after", {}).get("ece")
        st.caption(f"Expected calibration error {ece:.3f} over these bins." if ece else "")


def subgroups_ui(evaluation: dict[str, Any]) -> None:
    """Metrics by time points, subtype and image input: chart and table."""
    st.subheader("By time point, subtype and image input")
    rows = breakdown_rows(evaluation)
    if not rows:
        st.info("No subgroup figures in this evaluation.")
        return
    st.plotly_chart(figures.breakdown_figure(rows), width="stretch")
    table(rows, ("accuracy", "macro AUC", "ECE"))


def importance_ui(explanations: dict[str, Any] | None, synthetic: bool) -> None:
    """Global importance of every feature, next to the truth's for phantom-trained models."""
    st.subheader("Which features the model relies on")
    rows = importance_rows(explanations) if explanations else []
    if not rows:
        st.info(
            "No global importance yet: run `python -m mmcrnet evaluate-explanations "
            "--phantom-test 500` (phantom-trained models)."
        )
        return
    agreement = explanations["truth_agreement"]["baseline=reference"] if explanations else {}
    st.markdown(
        "Mean absolute Integrated-Gradients contribution of each baseline feature to "
        "log P(pCR) − log P(none), over held-out phantom cases"
        + (
            ", beside the phantom's true contributions. Spearman of the two rankings: "
            f"**{agreement.get('global_ranking_spearman', float('nan')):.2f}**."
            if synthetic
            else "."
        )
    )
    chart, numbers = st.columns([3, 2])
    with chart:
        st.plotly_chart(figures.importance_figure(rows), width="stretch")
    with numbers:
        shown = [{**r, "feature": feature_label(r["feature"])} for r in rows]
        table(shown, ("model", "truth"))


def checks_ui(explanations: dict[str, Any] | None) -> None:
    """The explanation checks against the phantom's truth, met or not."""
    st.subheader("Explanations checked against the truth")
    if not explanations:
        st.info("Not checked yet: `python -m mmcrnet evaluate-explanations --phantom-test 500`.")
        return
    rows = check_rows(explanations)
    met = sum(r["met"] for r in rows)
    st.markdown(
        f"{met} of {len(rows)} targets met on {explanations.get('n', '?')} held-out phantom "
        "cases. The README's explanations section says what each measures."
    )
    table([{**r, "met": "yes" if r["met"] else "no"} for r in rows])


def model_choice_ui(workspace: Workspace) -> None:
    """Which of the server's model folders this session uses (every page follows it)."""
    folders = workspace.model_folders()
    current = state.model_dir().resolve()
    paths = [f.resolve() for f in folders]
    chosen = st.selectbox(
        "Model this session uses",
        paths,
        index=paths.index(current) if current in paths else 0,
        format_func=lambda p: (
            f"{p.name}/ (bundled)" if p == BUNDLED_MODEL.resolve() else f"{p.name}/"
        ),
        key="model.choice",
        help="The bundled model and the models trained on this server (Train page).",
    )
    if chosen != current:
        state.use_model(workspace.allowed_model(chosen))
        st.rerun()


def model_page_ui(docs: ModelDocuments) -> None:
    """The whole page for one model folder."""
    st.error(
        f"{DISCLAIMER} Trained on {docs.card.get('training_data')}.", icon=":material/warning:"
    )
    st.markdown(
        f"**{docs.card.get('name', 'MM-CRNet')}** in `{docs.folder.name}/`, weights "
        f"`{str(docs.card.get('weights', {}).get('sha256', ''))[:12]}`."
    )
    for problem in docs.problems:
        st.warning(problem)
    card_ui(docs)
    if docs.evaluation:
        tables_ui(docs.evaluation)
        plots_ui(docs.evaluation)
        subgroups_ui(docs.evaluation)
    else:
        st.info("Not evaluated yet: `python -m mmcrnet evaluate --phantom-test 2000`.")
    importance_ui(docs.explanations, docs.synthetic)
    checks_ui(docs.explanations)
