"""Imports point down: each engine module has a layer, and may import only modules of lower
layers. A new module must be given its layer here (so where it sits is a decision), and the
engine never imports Streamlit or the app (``ui``, ``pages``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mmcrnet"

#: The layers, bottom first: upload -> decode -> preprocess -> model -> explain -> render.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "mmcrnet.errors",
        "mmcrnet.model",
        "mmcrnet.phantom",
        "mmcrnet.phantom.images",
        "mmcrnet.jsonsafe",
        "mmcrnet.teach",
        "mmcrnet.store",
        "mmcrnet.store.tables",
        "mmcrnet.store.migrations",
        "mmcrnet.store.migrations.versions.0001_cases",
        "mmcrnet.explain.overlay",
        "mmcrnet.interop",
        "mmcrnet.timing",
    ),
    (
        "mmcrnet.features",
        "mmcrnet.io.sources",
        "mmcrnet.io.phase",
        "mmcrnet.report",
        "mmcrnet.jobs",
        "mmcrnet.store.migrations.env",
        "mmcrnet.view",
        "mmcrnet.distributed",
    ),
    (
        "mmcrnet.io.dicom",
        "mmcrnet.io.raster",
        "mmcrnet.io.gather",
        "mmcrnet.io.modality",
        "mmcrnet.io.window",
        "mmcrnet.io.slices",
        "mmcrnet.metrics",
        "mmcrnet.cohort",
        "mmcrnet.phantom.cohort",
        "mmcrnet.interop.mcode",
    ),
    (
        "mmcrnet.io.sandbox",
        "mmcrnet.curves",
        "mmcrnet.cohort_import",
        "mmcrnet.teach.truth",
        "mmcrnet.teach.observer",
        "mmcrnet.interop.fhir_import",
        "mmcrnet.interop.pacs",
    ),
    ("mmcrnet.io.series", "mmcrnet.io.raster_series"),
    ("mmcrnet.io.study", "mmcrnet.phantom.writer", "mmcrnet.phantom.validate", "mmcrnet.case"),
    (
        "mmcrnet.io",
        "mmcrnet.phantom.examples",
        "mmcrnet.casefile",
        "mmcrnet.checkpoint",
        "mmcrnet.store.store",
    ),
    ("mmcrnet.preprocess", "mmcrnet.workspace", "mmcrnet.model_card"),
    ("mmcrnet.data",),
    ("mmcrnet.datasets", "mmcrnet.reference"),
    ("mmcrnet.batch", "mmcrnet.predict"),
    (
        "mmcrnet.train",
        "mmcrnet.evaluate",
        "mmcrnet.explain.gradcam",
        "mmcrnet.explain.modalities",
        "mmcrnet.explain.sequence",
    ),
    ("mmcrnet.explain.explanation", "mmcrnet.bench_peers"),
    ("mmcrnet.explain.evaluate", "mmcrnet.explain", "mmcrnet.guard"),
    (
        "mmcrnet.scale",
        "mmcrnet.answer",
        "mmcrnet.fuzz",
        "mmcrnet.batch_predict",
        "mmcrnet.compare",
        "mmcrnet.pdf_report",
        "mmcrnet.interop.dicom_export",
    ),
    ("mmcrnet.teach.agreement", "mmcrnet.teach.gallery", "mmcrnet.benchmark"),
    ("mmcrnet.teach.case",),
    ("mmcrnet.teach.quiz", "mmcrnet.teach.whatif"),
    ("mmcrnet.teach.bench",),
    ("mmcrnet",),  # the public names, most of them imported on first use
    ("mmcrnet.__main__",),
)
LAYER = {name: i for i, layer in enumerate(LAYERS) for name in layer}
FORBIDDEN = ("streamlit", "ui", "pages")


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


MODULES = sorted(_module(p) for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_every_module_has_a_layer(module: str) -> None:
    assert module in LAYER, f"{module} has no layer in tests/test_layers.py: give it one"


@pytest.mark.parametrize("module", MODULES)
def test_imports_point_down(module: str) -> None:
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
    own = LAYER.get(module, len(LAYERS))
    for imported in _imports(path):
        top = imported.split(".")[0]
        assert top not in FORBIDDEN, f"{module} imports {imported}: the engine never imports it"
        if top != "mmcrnet" or imported == module or module == "mmcrnet":
            continue
        assert LAYER.get(imported, len(LAYERS)) < own, (
            f"{module} (layer {own}) imports {imported} (layer {LAYER.get(imported)}): "
            "imports point down only"
        )


def test_the_rules_the_issue_names() -> None:
    assert LAYER["mmcrnet.train"] <= LAYER["mmcrnet.explain.sequence"]  # no train -> explain
    assert LAYER["mmcrnet.evaluate"] == LAYER["mmcrnet.train"]  # so no evaluate -> train
    for bottom in ("mmcrnet.model", "mmcrnet.features", "mmcrnet.io.sources"):
        assert LAYER[bottom] <= 1
