"""The readers' contract under mutated uploads, in the suite: hypothesis draws a seed file and a
chain of mutations (and shrinks any counter-example to the smallest chain), the page's read
path either reads it or raises our own one-line error. ``python -m mmcrnet fuzz`` is the long
run."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mmcrnet.errors as errors
from mmcrnet.fuzz import FuzzReport, mutate, read_like_the_page, run, seeds
from mmcrnet.io import RawFile

EXAMPLES = Path(__file__).resolve().parent.parent / "assets" / "examples"
SEEDS = seeds(EXAMPLES)


def test_the_seeds_cover_pydicom_and_our_own_files() -> None:
    names = [s.name for s in SEEDS]
    assert len(names) > 50 and "series.zip" in names
    assert any(n.startswith("png/") for n in names) and "MR_small.dcm" in names


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,  # the same inputs on every run: CI is reproducible
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    index=st.integers(0, len(SEEDS) - 1),
    rounds=st.integers(1, 8),
    mutation_seed=st.integers(0, 2**32 - 1),
)
def test_mutated_uploads_are_read_or_refused_in_one_line(
    index: int, rounds: int, mutation_seed: int
) -> None:
    seed = SEEDS[index]
    data, _ = mutate(seed.data, random.Random(mutation_seed), rounds)
    outcome = read_like_the_page(RawFile(f"upload{Path(seed.name).suffix}", data))
    assert outcome == "read" or issubclass(getattr(errors, outcome), errors.OncoPredictError)


def test_a_run_reports_what_the_readme_quotes() -> None:
    report = run(20, seed=3, examples_dir=EXAMPLES)
    assert isinstance(report, FuzzReport) and report.inputs == 20
    assert not report.escapes, report.escapes
    assert sum(report.outcomes.values()) == 20 and report.slowest
    figures = report.to_dict()
    assert figures["peak_rss_mb"] > 0 and figures["inputs_per_s"] > 0


def test_an_escape_is_recorded_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    import mmcrnet.fuzz as fuzz

    def broken(raw: RawFile) -> str:
        raise KeyError("a bug")

    monkeypatch.setattr(fuzz, "read_like_the_page", broken)
    report = run(3, seed=1, examples_dir=EXAMPLES)
    assert len(report.escapes) == 3 and report.escapes[0].error == "KeyError: 'a bug'"


def test_mutations_never_fail_on_tiny_inputs() -> None:
    rng = random.Random(0)
    for size in range(0, 12):
        for _ in range(50):
            mutate(bytes(size), rng, 8)
