"""probe-table output: which data each row came from, p-values, the bootstrap unit."""

from __future__ import annotations

import numpy as np

from xrayssl.evaluate.compare import compare_metrics
from xrayssl.evaluate.table import format_p, format_table
from xrayssl.runs.metrics_file import RunMetrics


def fake_metrics(label: str, probs: np.ndarray, y: np.ndarray, clusters: list[str],
                 cache: str = "/data/caches/knee-64") -> RunMetrics:
    value = {"value": 0.8, "lo": 0.7, "hi": 0.9}
    return RunMetrics.model_validate({
        "run": {"kind": "probe", "label": label},
        "data": {"cache": cache},
        "splits": {"test": {"how": "cache splits: train -> valid", "n": len(y),
                            "indices": list(range(len(y))), "labels": y.tolist(),
                            "clusters": clusters}},
        "fractions": {"1": {"fraction": 1.0, "fits": [{"seed": 0, "n_train": 10}],
                            "scores": {"test": {
                                "overall": {"image": {"metrics": {"auroc": value}}},
                                "predictions": [probs.tolist()]}}}},
    })


def test_p_values_below_the_printed_precision_say_so() -> None:
    assert format_p(0.0) == "p < 0.001"
    assert format_p(0.0004) == "p < 0.001"
    assert format_p(0.0421) == "p = 0.042"


def test_rows_name_their_data_and_the_note_names_the_bootstrap_unit() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 100)
    good = np.clip(y * 0.8 + rng.normal(0.1, 0.1, y.size), 0, 1)
    noise = rng.random(y.size)
    per_image = [f"img{i}" for i in range(y.size)]  # MedMNIST: no patient ids
    a = fake_metrics("good", good, y, per_image, cache="/data/caches/pneumonia-28")
    b = fake_metrics("noise", noise, y, per_image, cache="/data/caches/pneumonia-28")
    c = fake_metrics("knee", good, y, [f"p{i // 4}" for i in range(y.size)])
    table = format_table([a, b, c], columns=("auroc",))
    header, _, *body = table.splitlines()
    assert header.split()[:3] == ["model", "data", "labels"]
    assert body[0].split()[:2] == ["good", "pneumonia-28"]
    assert body[2].split()[:2] == ["knee", "knee-64"]
    assert ("data pneumonia-28: /data/caches/pneumonia-28; test: cache splits: train -> valid, "
            "200 images; CIs by bootstrap over images: the data has no patient ids") in table
    assert "data knee-64: /data/caches/knee-64" in table and "patient bootstrap" in table

    line = compare_metrics(b, a, n_boot=500)[0]  # a clear win: no draw reverses it
    assert "p < 0.001" in line and "p = 0.000" not in line
    assert "bootstrap over images" in line and "patient bootstrap" not in line


def test_compact_p_never_prints_a_zero_p_value() -> None:
    from xrayssl.evaluate.table import compact_p

    assert compact_p(0.0) == "p<0.001"
    assert compact_p(0.0004) == "p<0.001"
    assert compact_p(0.0423) == "p=0.042"
