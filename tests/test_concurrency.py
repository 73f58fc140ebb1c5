"""The app shares one model between sessions (Streamlit runs each in a thread): two sessions
predicting at once must each get exactly what they would get alone, and never see the other's
data (the guard's and Grad-CAM's recording hooks sit on the shared model)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from mmcrnet.case import ClinicalCase
from mmcrnet.cohort import load_cohort
from mmcrnet.explain import Explainer
from mmcrnet.guard import Guard
from mmcrnet.io import read_paths
from mmcrnet.predict import Predictor


def test_two_sessions_predicting_at_once_get_their_own_answers(examples_dir: Path) -> None:
    cohort = load_cohort(examples_dir)
    explainer = Explainer(Predictor("models"), steps=16)
    guard = Guard.load("models")

    def answer(case_id: str) -> tuple[np.ndarray, np.ndarray, float | None]:
        clinical = ClinicalCase.from_tables(cohort.cases, cohort.timepoints, case_id)
        study = read_paths(cohort.image_paths(case_id, "mri"), isolate=False)
        prepared = explainer.predictor.prepare(clinical, study)
        verdict = guard.check(study, prepared, clinical, explainer.predictor.model)
        explanation = explainer.explain(clinical, study, prepared=prepared)
        assert explanation.image is not None
        return (
            np.array(list(explanation.prediction.probabilities.values())),
            explanation.image.maps["gradcam"],
            verdict.image_distance,
        )

    cases = ("PH00019", "PH00364")
    alone = {case: answer(case) for case in cases}
    errors: list[BaseException] = []
    together: dict[str, list[tuple[np.ndarray, np.ndarray, float | None]]] = {c: [] for c in cases}

    def session(case_id: str) -> None:
        try:
            for _ in range(4):
                together[case_id].append(answer(case_id))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(case,)) for case in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for case in cases:
        for probabilities, cam, distance in together[case]:
            np.testing.assert_allclose(probabilities, alone[case][0], atol=1e-6)
            np.testing.assert_allclose(cam, alone[case][1], atol=1e-5)
            expected = alone[case][2]
            assert distance is not None and expected is not None
            assert abs(distance - expected) < 1e-4
