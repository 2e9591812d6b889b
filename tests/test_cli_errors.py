"""Every subcommand meets a bad value of each validated option with one ``error:`` line."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from conftest import build_signal_cache

from xrayssl.cli import run

# (command line with {cache} and {tmp}, a fragment the message must hold: the option or field
# and what is allowed). Each fails before any long work starts.
CASES = [
    ("synth --out {tmp}/s --patients 0", "patients"),
    ("synth --out {tmp}/s --difficulty extreme", "easy, medium, hard"),
    ("synth --out {tmp}/s --parts knee", "elbow, finger"),
    ("synth --out {tmp}/s --size 8", "size"),
    ("synth --out {tmp}/s --valid-fraction 1.5", "valid fraction"),
    ("synth --out {tmp}/s --workers 0", "--workers"),
    ("synth --out {tmp}/s --size big", "--size"),
    ("prepare {cache} --out {tmp}/c --size 8", "--size 8: the smallest cache side is 16"),
    ("prepare {cache} --out {tmp}/c --clahe tile=0", "tile"),
    ("prepare {cache} --out {tmp}/c --clahe foo=1", "allowed fields: clip, tile"),
    ("prepare {cache} --out {tmp}/c --label-map normal=2", "allowed values: 0, 1"),
    ("prepare {cache} --out {tmp}/c --kind zip",
     "Known: aihub, dicom, folders, manifest, mura, npz"),
    ("prepare {cache} --out {tmp}/c --workers 0", "--workers"),
    ("augment preview --policy '' --images {cache} --out {tmp}/p.png", "'identity'"),
    ("augment preview --policy crop+blurr --images {cache} --out {tmp}/p.png", "Did you mean"),
    ("augment preview --policy 'crop | flip | blur' --images {cache} --out {tmp}/p.png",
     "'A | B'"),
    ("augment preview --policy crop --images {cache} --out {tmp}/p.png --n-images 0",
     "--n-images"),
    ("augment preview --policy crop --images {cache} --out {tmp}/p.png --size 4", "--size"),
    ("augment lst", "Did you mean 'list'"),
    ("pretrain --data {cache} --policy crop --method simclrr", "Did you mean 'simclr'"),
    ("pretrain --data {cache} --policy crop --encoder resnet9", "Known: resnet18"),
    ("pretrain --data {cache} --policy crop --epochs 0", "--epochs"),
    ("pretrain --data {big} --epochs 1", "give --policy SPEC"),
    ("pretrain --data {cache} --policy crop --optimizer sgd", "'adamw' or 'lars'"),
    ("pretrain --data {cache} --policy crop --precision 8", "bf16-mixed"),
    ("pretrain --data {cache} --policy crop --devices abc", "ids such as 0,1"),
    ("pretrain --data {cache} --policy crop --option temperature", "NAME=VALUE"),
    ("pretrain --data {cache} --policy ''", "'identity'"),
    ("pretrain --data {cache} --policy 'crop | flip' --policy-b blur", "--policy-b"),
    ("pretrain --data {cache} --policy crop --body-parts knee", "body parts"),
    ("pretrain --data {cache} --policy crop --config {tmp}/typo.yaml", "did you mean 'epochs'"),
    ("probe --data {cache} --baseline raw --fractions 0,1.5", "(0, 1]"),
    ("probe --data {cache} --baseline raw --fractions a", "--fractions"),
    ("probe --data {cache} --baseline raw --seeds 0", "--seeds"),
    ("probe --data {cache} --baseline foo", "raw, random, imagenet, supervised"),
    ("probe --data {cache}", "--encoder ENC.pt or --baseline"),
    ("probe --data {cache} --baseline raw --body-parts knee", "elbow"),
    ("probe --data {cache} --baseline supervised --policy ''", "'identity'"),
    ("probe --data {cache} --baseline supervised --epochs 0", "--epochs"),
    ("probe --dat {cache} --baseline raw", "--data"),
    ("probe-table {tmp}/m.json --level patient", "image or study"),
    ("probe-table {tmp}/m.json --columns auroc,aucc", "auroc, kappa"),
    ("study run {tmp}/missing.yaml", "not found"),
    ("study run {tmp}/study-typo.yaml", "did you mean 'methods'"),
    ("study run {tmp}/study-typo.yaml --workers 0", "--workers"),
    ("study results {tmp} --n-bootstrap 10", "--n-bootstrap"),
    ("study plan {tmp}/study-typo.yaml", "did you mean 'methods'"),
    ("study plan {tmp}/study-encoder.yaml --no-timing", "Did you mean 'resnet_tiny'"),
    ("study run {tmp}/study-encoder.yaml", "Did you mean 'resnet_tiny'"),
    ("study plan {tmp}/study-option.yaml --no-timing", "has no option(s) temperatur"),
    ("study run {tmp}/study-option.yaml", "has no option(s) temperatur"),
    ("study plan {tmp}/study-op.yaml --no-timing", "Did you mean 'flip'"),
    ("study plan {tmp}/broken.yaml", "broken.yaml, line 3, column 6: expected ',' or ']'"),
    ("pretrain --data {cache} --policy crop --config {tmp}/broken.yaml", "broken.yaml, line 3"),
    ("demo --budget huge", "tiny, default, long"),
    ("gradcam --encoder {tmp}/e.pt --images {cache} --out {tmp}/g --on foo", "'original'"),
    ("gradcam --encoder {tmp}/e.pt --images {cache} --out {tmp}/g --max-images 0",
     "--max-images"),
    ("report {tmp}/nowhere", "not found"),
    ("prbe", "Did you mean 'probe'"),
]


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("cli-errors")
    cache = build_signal_cache(tmp / "cache", n=16, size=32)
    (tmp / "typo.yaml").write_text("policy: crop\nepohcs: 2\n")
    (tmp / "broken.yaml").write_text("name: t\nmethods: [simclr\nspace: {kind: list}\n")
    (tmp / "study-typo.yaml").write_text(
        f"name: t\nruns_dir: {tmp}/runs\ndata: {{cache: {cache.root}}}\nmethod: [simclr]\n"
        "space: {kind: list, policies: [crop]}\n"
    )
    study = (f"name: t\nruns_dir: {tmp}/runs\ndata: {{cache: {cache.root}}}\nmethods: [simclr]\n"
             "space: {kind: list, policies: [%s]}\npretrain: {encoder: %s, method_options: %s}\n")
    (tmp / "study-encoder.yaml").write_text(study % ("crop", "resnet_tinyy", "{}"))
    (tmp / "study-option.yaml").write_text(study % ("crop", "resnet_tiny", "{temperatur: 0.2}"))
    (tmp / "study-op.yaml").write_text(study % ("crop+flipp", "resnet_tiny", "{}"))
    big = build_signal_cache(tmp / "big", n=8, size=128)
    return {"cache": str(cache.root), "tmp": str(tmp), "big": str(big.root)}


@pytest.mark.parametrize(("line", "fragment"), CASES, ids=[str(k) for k in range(len(CASES))])
def test_a_bad_value_gives_one_error_line(
    line: str, fragment: str, places: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = run(shlex.split(line.format(**places)))
    captured = capsys.readouterr()
    errors = [text for text in captured.err.splitlines() if text.startswith("error:")]
    assert status == 2, captured.err
    assert len(errors) == 1, captured.err
    assert fragment in errors[0], captured.err
    assert "Traceback" not in captured.err + captured.out
    assert not Path(places["tmp"], "s").exists()  # synth stopped before writing anything


def test_a_misnamed_encoder_stops_study_run_before_any_trial(tmp_path: Path) -> None:
    cache = build_signal_cache(tmp_path / "cache", n=16, size=32)
    config = tmp_path / "study.yaml"
    config.write_text(f"name: t\nruns_dir: {tmp_path}/runs\ndata: {{cache: {cache.root}}}\n"
                      "methods: [simclr]\nspace: {kind: list, policies: [crop]}\n"
                      "pretrain: {encoder: resnet_tinyy}\n")
    assert run(["study", "run", str(config)]) == 2
    assert not (tmp_path / "runs").exists()  # no study folder, no storage, no trial
