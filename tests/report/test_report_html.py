from __future__ import annotations

import importlib.util
import re
import struct
from pathlib import Path

import pytest
import yaml
from conftest import MakeCache
from explain.explain_standins import RegionEncoder, sum_probe
from report_fake_study import BLUR_GAIN, FLIP_GAIN, make_fake_study, write_originals
from typer.testing import CliRunner

from xrayssl.apps.study_gradcam import explain_findings
from xrayssl.cli import app
from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.explain.run import ModelToExplain, explain_models
from xrayssl.findings.collect import collect
from xrayssl.report.html import build_report
from xrayssl.study.space import op_names

HAS_ORIGINAL_READER = all(importlib.util.find_spec(m) for m in
                          ("xrayssl.data.io", "xrayssl.data.prepare"))


def study_with_gradcam(root: Path, cache: PreparedCache) -> list[str]:
    names = make_fake_study(root, cache)
    models = [ModelToExplain(f"model {i}", RegionEncoder(32, slice(0, 32), slice(0, 32)),
                             sum_probe(), run=names[i]) for i in range(2)]
    explain_models(models, cache, root / "gradcam", max_images=24)
    return names


@pytest.fixture
def study(make_cache: MakeCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
          ) -> tuple[Path, list[str]]:
    monkeypatch.chdir(tmp_path)  # the cache's records have relative paths
    cache = make_cache(n=32, size=32)
    write_originals(cache, tmp_path)
    root = tmp_path / "runs" / "demo"
    return root, study_with_gradcam(root, cache)


def test_report_is_one_file_with_every_run_and_section(study: tuple[Path, list[str]]) -> None:
    root, names = study
    html = build_report(root).read_text(encoding="utf-8")
    rows = re.findall(r'<tr data-run="([^"]+)"', html)
    assert sorted(rows) == sorted(names)
    for section in ("overview", "data", "augment", "results", "effects", "pairwise",
                    "efficiency", "gradcam", "reproduce"):
        assert f'<section id="{section}">' in html
    # self-contained: every image inline, nothing fetched
    assert re.search(r'(src|href)="(https?:)?//', html) is None
    assert html.count('src="data:image/png;base64,') >= 8
    assert "torch" in html and "name: demo" in html  # versions and the exact config
    # the localization score joins the ranked table for the runs Grad-CAM explained
    first_row = html.split(f'<tr data-run="{names[0]}">')[1].split("</tr>")[0]
    assert "chance" in first_row
    # the study's paired tests join a run's row: simclr crop+blur against the crop-only base
    # at the same seed (a single run is never compared with the luckiest run of its method)
    blur = "simclr_crop+blur_s0"
    vs_base = collect(root).run(blur).vs_base
    assert vs_base["delta"] > 0
    blur_row = html.split(f'<tr data-run="{blur}">')[1].split("</tr>")[0]
    assert f"{vs_base['delta']:+.3f}" in blur_row
    assert f"p={vs_base['p_holm']:.3f} (Holm)" in blur_row
    if HAS_ORIGINAL_READER:
        assert "before: original images" in html


def test_per_op_effect_recovers_the_planted_gains(study: tuple[Path, list[str]]) -> None:
    root, _ = study
    bars = {(e.method, e.op): e for e in collect(root).op_effects}
    for method in ("simclr", "byol"):
        assert bars[(method, "blur")].mean_change == pytest.approx(BLUR_GAIN)
        assert bars[(method, "flip")].mean_change == pytest.approx(FLIP_GAIN)
        assert bars[(method, "blur")].n_pairs == 2  # crop -> crop+blur, crop+flip -> crop+blur+flip
    assert ("simclr", "crop") not in bars  # no trial without the base op


def test_op_names_parses_specs() -> None:
    assert op_names("crop+blur(sigma=0.1-2)+flip") == {"crop", "blur", "flip"}
    assert op_names("identity") == frozenset()
    assert op_names("crop | blur") is None


def test_missing_and_damaged_inputs_become_notes(tmp_path: Path) -> None:
    root = tmp_path / "runs" / "bare"
    (root / "broken").mkdir(parents=True)
    (root / "broken" / "metrics.json").write_text("{not json")
    (root / "study.yaml").write_text(yaml.safe_dump({"name": "bare"}))
    html = build_report(root, out=tmp_path / "r.html").read_text(encoding="utf-8")
    assert "could not be read" in html  # the damaged metrics.json is named, not fatal
    assert "Grad-CAM has not been run" in html
    assert "cache the study used was not found" in html
    with pytest.raises(XraySSLError, match=r"neither a study\.yaml"):
        build_report(tmp_path)
    with pytest.raises(XraySSLError, match="study folder not found"):
        build_report(tmp_path / "nope")


def test_report_command(study: tuple[Path, list[str]], tmp_path: Path) -> None:
    root, _ = study
    out = tmp_path / "page.html"
    result = CliRunner().invoke(app, ["report", str(root), "--out", str(out), "--no-gradcam"])
    assert result.exit_code == 0, result.output
    assert out.is_file() and str(out) in result.output


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.browser
def test_report_renders_in_headless_chromium(study: tuple[Path, list[str]],
                                             tmp_path: Path) -> None:
    from report_chromium import Page, find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.skip("headless Chromium not found (set XRAYSSL_TEST_CHROMIUM to its binary)")
    root, names = study
    report = build_report(root)
    page = Page(binary, width=1280, height=2000)
    try:
        page.open(report.as_uri())
        shot = tmp_path / "report.png"
        page.screenshot(shot)
        ranked_rows = ("Array.from(document.querySelector('#results table.sortable')"
                       ".tBodies[0].rows)")
        rows = page.evaluate(f"{ranked_rows}.map(r => r.dataset.run)")
        # sorting: click the method header, then read the method column
        page.evaluate("document.querySelector('#results table.sortable th:nth-child(2)')"
                      ".click()")
        methods = page.evaluate(f"{ranked_rows}.map(r => r.cells[1].textContent)")
        images_ok = page.evaluate(
            "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        errors = page.errors()
    finally:
        page.close()
    assert errors == []
    assert sorted(rows) == sorted(names)
    assert methods == sorted(methods)
    assert images_ok
    assert png_size(shot) == (1280, 2000)
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one


def test_report_runs_gradcam_on_the_trials_it_finds(
    make_cache: MakeCache, tmp_path: Path
) -> None:
    import json

    import numpy as np

    probe_module = pytest.importorskip("xrayssl.evaluate.probe")
    from xrayssl.models.encoders import build_encoder, save_encoder

    cache = make_cache(n=24, size=32)
    root = tmp_path / "runs" / "demo"
    names = make_fake_study(root, cache)
    trials = names[:2]  # simclr crop (AUROC 0.80) and simclr crop+blur (0.83)
    for seed, name in enumerate(trials):
        encoder = build_encoder("resnet18", image_size=32)
        save_encoder(encoder, root / name / "encoder.pt", {"method": "simclr"})
        coef = np.random.default_rng(seed).normal(size=encoder.feature_dim)
        probe_module.LinearProbe(
            mean=np.zeros(encoder.feature_dim), scale=np.ones(encoder.feature_dim), coef=coef,
            intercept=0.0, C=1.0, class_weight=None,
        ).save(root / name / "probe.json")
    refreshed, ran = explain_findings(collect(root))  # the study's Grad-CAM stage
    assert ran and refreshed.gradcam is not None  # read back through collect
    html = build_report(root).read_text(encoding="utf-8")
    record = json.loads((root / "gradcam" / "explain.json").read_text())
    assert [m["run"] for m in record["models"]] == [trials[1], trials[0]]  # best first
    assert record["sheet_columns"] == ["simclr crop+blur", "simclr crop"]  # best, worst
    assert all(m["localization"]["images"] > 0 for m in record["models"])
    assert "comparison sheet" in html
    # a third trial finishes: the next report explains it too; an unchanged study is not redone
    save_encoder(build_encoder("resnet18", image_size=32), root / names[2] / "encoder.pt", {})
    (root / names[2] / "probe.json").write_bytes((root / trials[0] / "probe.json").read_bytes())
    explain_findings(collect(root))
    record = json.loads((root / "gradcam" / "explain.json").read_text())
    assert len(record["models"]) == 3
    stamp = (root / "gradcam" / "explain.json").stat().st_mtime_ns
    assert not explain_findings(collect(root))[1]
    assert (root / "gradcam" / "explain.json").stat().st_mtime_ns == stamp


def test_sheet_positions_best_and_worst_per_method() -> None:
    from xrayssl.explain.study import TrialRef, sheet_positions

    def ref(method: str) -> TrialRef:
        return TrialRef("r", Path("r"), method, method)

    trials = [ref("byol"), ref("simclr"), ref("byol"), ref("simclr"), ref("simclr")]
    assert sheet_positions(trials) == [0, 2, 1, 4]
    assert sheet_positions([ref("byol")]) == [0]


@pytest.mark.browser
def test_the_answer_table_fits_a_laptop_screen(tmp_path: Path) -> None:
    """At 1280 px every column of the answer table is on screen (no sideways scrolling)."""
    from findings.test_answer import Planted
    from report_chromium import Page, find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.skip("headless Chromium not found (set XRAYSSL_TEST_CHROMIUM to its binary)")
    planted = Planted(tmp_path / "planted")  # a study with an answer per method and body part
    report = build_report(planted.study)
    page = Page(binary, width=1280, height=1000)
    try:
        page.open(report.as_uri())
        page.screenshot(tmp_path / "answer.png")
        widths = page.evaluate(
            "(() => { const t = document.querySelector('#answer table');"
            " if (!t) return null;"
            " const box = t.getBoundingClientRect();"
            " return [t.scrollWidth, t.parentElement.clientWidth, box.right,"
            " document.documentElement.clientWidth, t.tHead.rows[0].cells.length]; })()")
    finally:
        page.close()
    assert widths is not None, "the report has no answer table"
    html = report.read_text(encoding="utf-8")
    answer = html.split('<section id="answer">')[1].split("</section>")[0]
    # the decision at a glance comes first, the protocol paragraph after the tables
    assert answer.index('<figure class="lead">') < answer.index("<table")
    assert answer.index("<table") < answer.index("Protocol: selected on val")
    table, box, right, viewport, columns = widths
    assert columns == 9
    assert table <= box and right <= viewport, widths
