"""How cost grows with the cohort: a tabular cohort measured end to end, and the growth fit."""

from __future__ import annotations

import math
from pathlib import Path

from mmcrnet.scale import ScalePoint, growth, measure, table


def _point(cases: int, seconds: float) -> ScalePoint:
    return ScalePoint(cases, int(cases * 0.7), "mmcrnet", seconds, seconds, seconds, 0, 0, 0)


def test_growth_is_seconds_per_thousand_and_the_log_log_slope() -> None:
    linear = [_point(n, n / 100) for n in (1000, 5000, 20000)]
    assert growth(linear, "epoch_s") == {"per_1000": 10.0, "exponent": 1.0}
    quadratic = [_point(n, (n / 1000) ** 2) for n in (1000, 2000, 4000)]
    assert growth(quadratic, "epoch_s")["exponent"] == 2.0
    assert math.isnan(growth(linear[:1], "epoch_s")["exponent"])


def test_a_tabular_cohort_renders_no_image_and_is_measured(tmp_path: Path) -> None:
    point = measure(400, 3, "lstm-only", tmp_path)
    assert point.cases == 400 and point.train_cases == 280 and point.cache_mb == 0
    assert point.epoch_s > 0 and point.predict_s > 0 and point.peak_rss_mb > 0
    assert not any(tmp_path.iterdir())  # nothing rendered, nothing cached
    text = table(
        {"imaging": [], "tabular": [point.__dict__ | {"predict_cases_per_s": 1}], "growth": {}}
    )
    assert "| 400 | lstm-only |" in text
