"""The command line: help on every subcommand, JSON output, one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmcrnet.__main__ import main

SUBCOMMANDS = [
    [],
    ["phantom"],
    ["phantom", "write"],
    ["phantom", "validate"],
    ["phantom", "examples"],
    ["inspect"],
    ["cohort"],
    ["cohort", "check"],
    ["train"],
    ["evaluate"],
    ["benchmark"],
    ["explain"],
    ["predict"],
    ["evaluate-explanations"],
]


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=lambda w: " ".join(w) or "top")
def test_help_on_every_subcommand(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*words, "--help"])
    assert info.value.code == 0
    assert "usage: python -m mmcrnet" in capsys.readouterr().out


def test_module_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mmcrnet", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "phantom" in result.stdout


def test_phantom_write_tables_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["phantom", "write", "--n", "30", "--seed", "3", "--out", str(tmp_path), "--no-images"]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["n"] == 30 and sum(summary["outcomes"].values()) == 30
    meta = json.loads((tmp_path / "cohort.json").read_text())
    assert meta["command"].endswith("--no-images") and meta["seed"] == 3
    assert main(["cohort", "check", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["cases"] == 30


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["phantom", "write", "--n", "0", "--seed", "1", "--out", "x"])
    assert info.value.code == 2
    assert "0 must be at least 1" in capsys.readouterr().err


def test_cohort_check_lists_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cases.csv").write_text("case_id,age\nA,abc\n")
    (tmp_path / "timepoints.csv").write_text("case_id,time_point\nA,T0\n")
    (tmp_path / "outcomes.csv").write_text("case_id,response\nA,pCR\n")
    assert main(["cohort", "check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cases.csv line 2 column 'age': 'abc' is not a number" in err


def test_validate_json_reports_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["phantom", "validate", "--n", "3000", "--seed", "1", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert len(report["checks"]) == 13
    assert code == (0 if report["passed"] else 1)
    assert all(
        {"name", "measured", "target", "tolerance", "passed"} <= set(c) for c in report["checks"]
    )


def test_inspect_prints_the_study(examples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mri = examples_dir / "images" / "PH00019" / "mri"
    assert main(["inspect", str(mri)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["modality"] == "MR" and summary["kind"] == "mri"
    assert [p["label"] for p in summary["phases"]] == ["phase 1", "phase 2", "phase 3"]
    assert [p["time_s"] for p in summary["phases"]] == [0.0, 90.0, 360.0]
    assert summary["pixel_spacing_mm"] == [0.7, 0.7]


def test_inspect_bad_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "scan.dcm"
    bad.write_text("this is not an image\n")
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "scan.dcm" in err


def test_explain_prints_reasons_and_json(
    tiny_model_dir: Path, examples_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "explain",
                "PH00019",
                "--model",
                str(tiny_model_dir),
                "--cohort",
                str(examples_dir),
                "--steps",
                "16",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "Research use only" in text and "reasons, towards or away from" in text
    assert "modalities (change in P(" in text and "Grad-CAM (mri_encoder" in text
    assert text.startswith("WARNING: no out-of-distribution guard")  # the tiny model has none
    assert (
        main(
            [
                "explain",
                "PH00019",
                "--model",
                str(tiny_model_dir),
                "--cohort",
                str(examples_dir),
                "--image",
                "mammogram",
                "--time-points",
                "2",
                "--target",
                "partial",
                "--json",
                "--no-maps",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)  # the app's result document
    assert data["schema"] == "oncopredict.case-result" and data["case_label"] == "PH00019"
    explained = data["explanation"]
    assert explained["target"] == "partial"
    assert explained["image"]["kind"] == "mammogram" and "maps" not in explained["image"]
    assert explained["sequence"]["time_points"] == ["T0", "T1"]
    assert data["inputs"]["image"]["sources"] == ["file 1"]  # no file names, no server paths
    assert (
        main(["explain", "PH99999", "--model", str(tiny_model_dir), "--cohort", str(examples_dir)])
        == 2
    )
    assert "case 'PH99999' is not in the cohort" in capsys.readouterr().err
    assert (
        main(
            [
                "explain",
                "PH00019",
                "--model",
                str(tiny_model_dir),
                "--cohort",
                str(examples_dir),
                "--device",
                "tpu:7",
            ]
        )
        == 2
    )
    assert "device 'tpu:7'" in capsys.readouterr().err


def test_explain_says_what_the_bundled_guard_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "PH00005", "--steps", "8"]) == 0  # its MRI: ~1 % are, by design
    text = capsys.readouterr().out
    assert text.startswith("WARNING: outside what the model was trained on")
    assert "unlike the training MRI images" in text
    assert main(["explain", "PH00019", "--steps", "8", "--json", "--no-maps"]) == 0
    assert json.loads(capsys.readouterr().out)["guard"]["ok"] is True


def test_evaluate_explanations_writes_the_report(
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # the phantom image cache goes to ./.cache
    out = tmp_path / "explanations.json"
    code = main(
        [
            "evaluate-explanations",
            "--model",
            str(tiny_model_dir),
            "--phantom-test",
            "6",
            "--seed",
            "99",
            "--sanity-cases",
            "3",
            "--steps",
            "16",
            "--workers",
            "1",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr()
    report = json.loads(out.read_text())
    assert code == (0 if report["passed"] else 1)  # 1 = a target missed (likely: a tiny model)
    assert report["n"] == 6 and report["command"].startswith("python -m mmcrnet")
    assert ("FAIL" in printed.out) == (code == 1) and "written to" in printed.out
    assert (
        main(
            [
                "evaluate-explanations",
                "--model",
                str(tiny_model_dir),
                "--phantom-test",
                "6",
                "--seed",
                "5",
            ]
        )
        == 2
    )  # the tiny model's training seed
    assert "training seed" in capsys.readouterr().err


def test_the_package_installs_a_mmcrnet_command() -> None:
    import subprocess
    import sys

    command = Path(sys.executable).parent / "mmcrnet"
    if not command.exists():
        pytest.skip("not installed as a package (pip install -e .)")
    done = subprocess.run([str(command), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "phantom" in done.stdout


def test_our_own_bugs_are_not_reported_as_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    import mmcrnet.__main__ as cli

    def broken(args: object) -> int:
        raise ValueError("a bug in our code")

    monkeypatch.setattr(cli, "cmd_inspect", broken)
    with pytest.raises(ValueError, match="a bug in our code"):  # a traceback, not exit 2
        main(["inspect", "x.dcm"])
