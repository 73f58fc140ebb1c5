"""The bundled example cases (``assets/examples``): a dozen phantom cases chosen to cover every
outcome, every subtype, both mammogram photometric interpretations and the image features an
educator wants to show, plus one case as plain PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmcrnet.features import OUTCOMES, SUBTYPES
from mmcrnet.phantom.cohort import PhantomCohort, generate_cohort
from mmcrnet.phantom.writer import case_renders, write_case_pngs, write_cohort

EXAMPLES_SEED = 2026
EXAMPLES_POOL = 400
EXAMPLES_COUNT = 12


def select_examples(cohort: PhantomCohort, count: int = EXAMPLES_COUNT) -> list[int]:
    """Row positions of the examples: the first case of each (subtype, outcome) pair, then the
    most irregular, the strongest rim and the most heterogeneous tumour; the last pick is
    swapped if needed so that both MONOCHROME1 and MONOCHROME2 mammograms are present."""
    truth, response = cohort.truth, cohort.outcomes["response"]
    rows: list[int] = []
    for subtype in SUBTYPES:
        for outcome in OUTCOMES:
            match = np.flatnonzero(
                (truth["subtype"] == subtype).to_numpy() & (response == outcome).to_numpy()
            )
            if match.size:
                rows.append(int(match[0]))
    for latent in ("irregularity", "rim", "heterogeneity"):
        for row in truth[latent].to_numpy().argsort()[::-1]:
            if int(row) not in rows:
                rows.append(int(row))
                break
    rows = rows[:count]
    renders = case_renders(cohort.subset(rows))
    photometrics = [r.render().photometric for r in renders]
    for wanted in ("MONOCHROME1", "MONOCHROME2"):
        if wanted in photometrics:
            continue
        for row in range(cohort.n):
            if row in rows:
                continue
            if case_renders(cohort.subset([row]))[0].render().photometric == wanted:
                rows[-1] = row
                break
    return rows


def write_examples(
    out: Path, seed: int = EXAMPLES_SEED, pool: int = EXAMPLES_POOL, command: str = ""
) -> PhantomCohort:
    """Write the example cohort to ``out`` and the first example as PNGs to ``out/png/<id>/``."""
    full = generate_cohort(pool, seed)
    chosen = full.subset(select_examples(full))
    write_cohort(
        Path(out),
        chosen.n,
        seed,
        images=True,
        workers=1,
        command=command,
        cohort=chosen,
        extra={"selected_from": {"n": pool, "seed": seed}},
    )
    first = case_renders(chosen)[0]
    write_case_pngs(first, Path(out) / "png" / first.case_id)
    return chosen
