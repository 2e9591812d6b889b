"""Quality per CPU-minute: does the default recipe's SSL encoder beat the floors in a budget?

On knee-oa (default, 64 px) or PneumoniaMNIST (28 px), prepared with the project's split
protocol: the folder's own ``val`` split is the dataset's test set, and no figure here reads
it; a validation split is carved from ``train`` by patient (stratified by label, seeded);
pretraining sees the rest of ``train`` without labels, the kNN monitor and every printed probe
figure are on the carved validation split.

Printed: the probe AUROC at 10% and 100% of the labels of the SSL encoder (the recipe of
``xrayssl.models.recipe`` for this image size), beside the raw-pixel and random-init floors
(same probe, same split), the paired difference to raw pixels with its patient-bootstrap CI,
pretraining pairs/s and the kNN-monitor curve.

The budget is pretraining wall time. On a shared machine wall time is not a measure, so the
budget is turned into a number of epochs with a throughput: by default the one measured here
first (a few timed steps of the same model in this process), or ``--pairs-per-second`` taken
from a quiet machine; ``--epochs`` fixes the epochs instead. The printout says which.

    python bench/quality.py                          # knee-oa, 64 px, 15 min
    python bench/quality.py --data pneumoniamnist    # 28 px, 10 min
    python bench/quality.py --budget 5 --method byol
    python bench/quality.py --device cuda --encoder resnet18_small --epochs 100
    python bench/quality.py --epochs 65 --seed 1 --against runs/bench-quality/knee-64/run-A
    python bench/quality.py --device cuda --encoder resnet18_small --epochs 100 --supervised \
        --cache runs/bench-quality/knee-64/cache   # a cache carried to a machine without the PNGs

``--supervised`` adds the supervised floor (the same encoder trained end to end on the same
label subsets, the study's "SL" baseline) and the paired difference of the SSL probe to it.

Each run keeps its probe in its folder (``bench-probe.json``); ``--against`` an earlier run
folder prints the paired difference of this run to that one on the same validation images
(``--split-seed`` left alone), so two recipes are compared on the images, not by their CIs.
One seed is one draw of the pretraining: ``--pool`` earlier runs of the same recipe at other
``--seed`` values and the figures become the mean over the seeds, with a CI over patients,
seeds and label subsets (the study's two-level bootstrap); ``--pool-only`` prints that table
for finished runs without training another:

    python bench/quality.py --seed 2 --pool runs/bench-quality/knee-64/run-A --pool .../run-B
    python bench/quality.py --pool-only --pool .../run-A --pool .../run-B

``--reprobe RUN`` probes a finished run's encoder again, trains nothing: with ``--readout
multiscale`` it asks what the probe reads of the same encoder (each readout keeps its own probe
file in the run folder, so ``--pool`` and ``--against`` compare like with like):

    python bench/quality.py --reprobe .../run-A --readout multiscale --pool .../run-B
    python bench/quality.py --reprobe .../run-A --readout multiscale --against .../run-A \
        --against-readout final     # two readouts of one encoder, paired
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xrayssl.config.data import SplitConfig
from xrayssl.config.pretrain import PretrainConfig
from xrayssl.config.probe import ProbeConfig
from xrayssl.data.cache import PreparedCache
from xrayssl.data.prepare import prepare_cache
from xrayssl.data.sources import load_source
from xrayssl.evaluate.metrics import paired_bootstrap
from xrayssl.evaluate.run import evaluate_encoder, evaluate_floor
from xrayssl.evaluate.uncertainty import paired_seed_difference, seed_interval
from xrayssl.findings.policy_seeds import stack
from xrayssl.models.encoders import load_encoder
from xrayssl.models.pretrain import run_pretraining
from xrayssl.models.recipe import recipe_for
from xrayssl.runs.folder import ENCODER_FILE, PRETRAIN_FILE
from xrayssl.runs.metrics_file import RunMetrics

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATASETS = {
    "knee": (SHARED / "knee-oa", 64, 15.0),
    "pneumoniamnist": (SHARED / "pneumoniamnist" / "pneumoniamnist_trainval.npz", 28, 10.0),
}
VALID_FRACTION = 0.2
PROBE_FILE = "bench-probe.json"  # the final readout's; other readouts name theirs
VAL = "val"  # every figure here is on the val carved from train; the test split is not read


def probe_file(readout: str) -> str:
    return PROBE_FILE if readout == "final" else f"bench-probe-{readout}.json"


def protocol_cache(source: Path, size: int, seed: int, out: Path) -> PreparedCache:
    """The source prepared with the project's protocol: its train split -> train and a ``val``
    carved from it by patient (``VALID_FRACTION``, stratified, seeded); its val split -> test."""
    return prepare_cache(load_source(source), out, size=size, progress=False,
                         splits=SplitConfig(val_fraction=VALID_FRACTION, seed=seed))


def carried_cache(path: Path, size: int, seed: int) -> PreparedCache:
    """A cache this bench prepared earlier (``--cache``), checked to hold the protocol's split."""
    cache = PreparedCache.open(path)
    wanted = SplitConfig(val_fraction=VALID_FRACTION, seed=seed).model_dump()
    if cache.splits.get("config") != wanted:
        raise SystemExit(f"{path} was not split as this bench splits (val carved from train, "
                         f"fraction {VALID_FRACTION}, --split-seed {seed}): name a cache folder "
                         "this bench prepared, or the source with --data")
    if cache.size != size:
        raise SystemExit(f"{path} is {cache.size} px, not {size}: give --size {cache.size}")
    return cache


def measure_pairs_per_second(config: PretrainConfig, cache: PreparedCache, work: Path) -> float:
    """Pairs/s of a short run of the same pipeline (its first batch, warm-up, left out)."""
    probe_run = config.model_copy(update={"epochs": 2, "batches_per_epoch": 6, "monitor": False,
                                          "warmup_epochs": 0.0})
    folder = work / f"throughput-{int(time.time())}"
    result = run_pretraining(probe_run, cache, folder)
    second = [row for row in result.history if row.get("epoch") == 2.0]
    return float(second[0]["pairs_per_second"]) if second else result.pairs_per_second


def probe_config(args: argparse.Namespace, readout: str) -> ProbeConfig:
    return ProbeConfig(fractions=[0.1, 1.0], seeds=args.probe_seeds, cv_folds=3,
                       n_bootstrap=args.n_bootstrap, readout=readout)  # type: ignore[arg-type]


def floor(kind: str, cache: PreparedCache, args: argparse.Namespace, encoder: str,
          work: Path) -> RunMetrics:
    """A floor's metrics, kept in ``work`` (they depend only on the cache and the probe)."""
    key = f"{kind}-{encoder}-{args.readout}" if kind != "raw" else "raw"
    path = work / f"floor-{cache.config_hash[:12]}-{key}-s{args.probe_seeds}.json"
    if path.is_file():
        return RunMetrics.read(path)
    started = time.perf_counter()
    result = evaluate_floor(kind, cache, encoder_name=encoder, device=args.device,
                               config=probe_config(args, args.readout))
    print(f"  {kind} floor probed in {time.perf_counter() - started:.0f} s", flush=True)
    result.write(path)
    return result


def auroc(metrics: RunMetrics, fraction: float) -> tuple[float, float, float]:
    estimate = metrics.estimate("auroc", fraction, split=VAL)
    if estimate is None or estimate.value is None:
        raise SystemExit(f"no AUROC at {fraction:g} of the labels")
    return estimate.value, float(estimate.lo or np.nan), float(estimate.hi or np.nan)


def predictions(metrics: RunMetrics, fraction: float) -> np.ndarray:
    scores = metrics.scores(fraction, split=VAL)
    if scores is None or scores.predictions is None:
        raise SystemExit(f"no predictions at {fraction:g} of the labels")
    return np.asarray(scores.predictions, dtype=np.float64)  # (seeds, N_val)


def same_images(base: RunMetrics, other: RunMetrics, what: str) -> None:
    if base.splits[VAL].indices != other.splits[VAL].indices:
        raise SystemExit(f"{what} probed on different images (another split seed?)")


def paired(base: RunMetrics, other: RunMetrics, fraction: float) -> str:
    """``other - base`` on the same validation images, patients resampled once for both."""
    same_images(base, other, "the two were")
    a = base.splits[VAL]
    result = paired_bootstrap(
        np.asarray(a.labels), predictions(base, fraction), predictions(other, fraction),
        np.asarray(a.clusters), metric="auroc", n_boot=2000, seed=0,
    )
    return f"{result['delta']:+.3f} [{result['lo']:+.3f}, {result['hi']:+.3f}]"


# What must match for runs to be pooled as seeds of one recipe (epochs may differ: a budget
# becomes epochs through a throughput measured on each run's machine).
RECIPE_FIELDS = ("method", "encoder", "policy", "policy_b", "batch_size", "lr", "warmup_epochs",
                 "method_options", "weight_decay", "optimizer", "precision", "image_size")


def pretrain_config(run_dir: Path, needs: str) -> dict[str, Any]:
    """The pretraining config of a finished run of this bench; ``needs`` another of its files."""
    path = run_dir / PRETRAIN_FILE
    if not path.is_file() or not (run_dir / needs).is_file():
        raise SystemExit(f"{run_dir} is not a finished run of this bench (no {PRETRAIN_FILE} or "
                         f"{needs}); name only run folders it printed")
    config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["config"]
    return config


def readout_probe(run_dir: Path, readout: str) -> Path:
    """A run's probe file through ``readout``; a clear exit if that readout was never probed."""
    path = run_dir / probe_file(readout)
    if not path.is_file():
        raise SystemExit(f"{run_dir} has no {path.name}: probe it first with --reprobe "
                         f"{run_dir} --readout {readout}")
    return path


def run_config(run_dir: Path, readout: str) -> dict[str, Any]:
    if (run_dir / PRETRAIN_FILE).is_file():
        readout_probe(run_dir, readout)
    return pretrain_config(run_dir, probe_file(readout))


def floors(cache: PreparedCache, args: argparse.Namespace, encoder: str,
           work: Path) -> tuple[RunMetrics, RunMetrics, RunMetrics | None]:
    """Raw pixels, random init and (with ``--supervised``) the supervised floor."""
    print("floors (raw pixels, random init) ...", flush=True)
    raw = floor("raw", cache, args, encoder, work)
    random_init = floor("random", cache, args, encoder, work)
    supervised = floor("supervised", cache, args, encoder, work) if args.supervised else None
    return raw, random_init, supervised


def pooled_table(raw: RunMetrics, runs: list[Path], args: argparse.Namespace) -> None:
    """The mean over pretraining seeds of the runs' probes, beside raw pixels, paired."""
    configs = [run_config(run, args.readout) for run in runs]
    for run, config in zip(runs[1:], configs[1:], strict=True):
        differs = [k for k in RECIPE_FIELDS if config.get(k) != configs[0].get(k)]
        if differs:
            raise SystemExit(f"{run} differs from {runs[0]} in {', '.join(differs)}: pool "
                             "only seeds of one recipe")
    seeds = [config["seed"] for config in configs]
    if len(set(seeds)) < len(seeds):
        raise SystemExit(f"the pooled runs share a pretraining seed ({seeds}): pool other seeds")
    metrics = [RunMetrics.read(run / probe_file(args.readout)) for run in runs]
    for run, run_metrics in zip(runs, metrics, strict=True):
        same_images(raw, run_metrics, f"{run} was")
    base = raw.splits[VAL]
    labels, clusters = np.asarray(base.labels), np.asarray(base.clusters)
    first = configs[0]
    print(f"\npooled over {len(runs)} pretraining seeds ({first['method']} {first['encoder']}, "
          f"readout {args.readout}, "
          f"seeds {', '.join(str(s) for s in seeds)}, epochs "
          f"{', '.join(str(c['epochs']) for c in configs)}); CI over patients, seeds and "
          "label subsets:")
    print("| fraction | raw pixels | SSL, mean over seeds | per seed | SSL - raw |")
    print("|---|---|---|---|---|")
    for fraction in (0.1, 1.0):
        # (R, S, N); runs probed with fewer label subsets bound S, as in the study's pooling
        stacked = stack([(predictions(m, fraction), None) for m in metrics])
        if stacked is None:
            raise SystemExit("nothing to pool")
        probs = stacked.probs
        mean = seed_interval(labels, probs, clusters, n_boot=args.n_bootstrap)
        diff = paired_seed_difference(labels, predictions(raw, fraction), probs, clusters,
                                      n_boot=2000)
        each = " / ".join(f"{auroc(m, fraction)[0]:.3f}" for m in metrics)
        print(f"| {fraction:.0%} | {auroc(raw, fraction)[0]:.3f} | {mean.value:.3f} "
              f"[{mean.lo:.3f}, {mean.hi:.3f}] | {each} | {diff.delta:+.3f} "
              f"[{diff.lo:+.3f}, {diff.hi:+.3f}] |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="knee", help="knee | pneumoniamnist | a source path")
    parser.add_argument("--size", type=int, default=None, help="image side (64 knee, 28 pneu)")
    parser.add_argument("--budget", type=float, default=None,
                        help="pretraining minutes (default 15 knee, 10 pneumoniamnist)")
    parser.add_argument("--epochs", type=int, default=None, help="fixed epochs (no budget)")
    parser.add_argument("--pairs-per-second", type=float, default=None,
                        help="throughput that turns the budget into epochs (default: measured)")
    parser.add_argument("--method", default=None, help="simclr | byol | ... (default: recipe)")
    parser.add_argument("--encoder", default=None, help="default: the recipe's encoder")
    parser.add_argument("--policy", default=None, help="default: the recipe's policy")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--option", action="append", default=[],
                        help="method option NAME=VALUE, e.g. temperature=0.2 (repeatable)")
    parser.add_argument("--readout", default=None, help="final | multiscale (default: recipe)")
    parser.add_argument("--precision", default="auto", help="auto | 32-true | bf16-mixed")
    parser.add_argument("--device", default="cpu", help="cpu | cuda")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--probe-seeds", type=int, default=3, help="label subsets at 10%%")
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="pretraining seed")
    parser.add_argument("--split-seed", type=int, default=0,
                        help="seed of the carved validation split (keep it to compare runs)")
    parser.add_argument("--against", type=Path, action="append", default=[],
                        help="an earlier run folder of this bench: print the paired "
                             "difference to its probe (repeatable)")
    parser.add_argument("--against-readout", default=None,
                        help="the readout of the --against runs' probes (default: this run's; "
                             "final with --reprobe RUN --against RUN gives the paired "
                             "difference of two readouts of one encoder)")
    parser.add_argument("--pool", type=Path, action="append", default=[],
                        help="an earlier run folder of the same recipe at another --seed: the "
                             "figures pool it with this run over seeds (repeatable)")
    parser.add_argument("--pool-only", action="store_true",
                        help="train nothing: print the pooled figures of the --pool runs")
    parser.add_argument("--reprobe", type=Path, default=None,
                        help="train nothing: probe this finished run's encoder (with "
                             "--readout), then print its table as a new run would")
    parser.add_argument("--supervised", action="store_true",
                        help="also the supervised floor: the same encoder trained end to end on "
                             "the same label subsets (slow on a CPU)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="a cache folder this bench prepared (e.g. copied to a machine "
                             "without the source images); --data then only names the run")
    parser.add_argument("--work", type=Path, default=Path("runs/bench-quality"))
    args = parser.parse_args()

    source, default_size, default_budget = DATASETS.get(args.data, (Path(args.data), 64, 15.0))
    if args.cache is None and not source.exists():
        print(f"skipped: {source} is not there (the real radiographs live in ../shared/data)")
        return
    size = args.size or default_size
    budget_minutes = args.budget if args.budget is not None else default_budget
    recipe = recipe_for(size)
    args.readout = args.readout or recipe.readout
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible")
    args.against_readout = args.against_readout or args.readout
    for earlier in args.against:  # checked before hours of training, not after
        readout_probe(earlier, args.against_readout)
    name = args.data if args.data in DATASETS else source.stem
    work = args.work / f"{name}-{size}"
    work.mkdir(parents=True, exist_ok=True)
    cache_dir = work / ("cache" if args.split_seed == 0 else f"cache-split{args.split_seed}")
    cache = (carried_cache(args.cache, size, args.split_seed) if args.cache is not None
             else protocol_cache(source, size, args.split_seed, cache_dir))
    n_train = len(cache.select(splits=["train"]))
    print(f"{name} at {size} px: {n_train} pretraining images, "
          f"{len(cache.select(splits=[VAL]))} validation images carved from train by "
          f"patient (seed {args.split_seed}); every figure below is on them (the source's own val "
          "split is the cache's test: the probe scores it, this bench never reads it)",
          flush=True)
    if args.pool_only:
        if not args.pool:
            raise SystemExit("--pool-only pools finished runs: name them with --pool RUN")
        pooled_table(floor("raw", cache, args, "", work), args.pool, args)
        return
    if args.reprobe is not None:
        reprobe(args.reprobe, cache, work, args)
        return

    options: dict[str, float | int | bool] = dict(recipe.method_options)
    for item in args.option:
        key, _, value = item.partition("=")
        options[key] = float(value) if "." in value or "e" in value else int(value)
    config = PretrainConfig(
        method=args.method or recipe.method, encoder=args.encoder or recipe.encoder,
        policy=args.policy or recipe.policy, batch_size=args.batch_size or recipe.batch_size,
        lr=args.lr or recipe.lr, warmup_epochs=recipe.warmup_epochs, method_options=options,
        epochs=1, workers=0, precision=args.precision, seed=args.seed, progress=False,
        accelerator="gpu" if args.device == "cuda" else "cpu", devices=1,
        monitor_max_query=4096, compile=args.compile,
    )
    if args.epochs is not None:
        epochs, how = args.epochs, f"{args.epochs} epochs as asked (no budget)"
    else:
        pps = args.pairs_per_second
        source_of_pps = "given"
        if pps is None:
            pps = measure_pairs_per_second(config, cache, work)
            source_of_pps = "measured here before training"
        epochs = max(1, int(budget_minutes * 60 * pps / n_train))
        how = (f"{budget_minutes:g} min budget x {pps:.0f} pairs/s ({source_of_pps}) / "
               f"{n_train} images = {epochs} epochs")
    config = config.model_copy(update={"epochs": epochs,
                                       "warmup_epochs": min(recipe.warmup_epochs, epochs)})
    print(f"recipe: {config.method} {config.encoder}, batch {config.batch_size}, lr "
          f"{config.lr}, options {options}, policy {config.policy!r}, readout {args.readout}"
          f"{', torch.compile' if config.compile else ''}",
          flush=True)
    print(f"epochs: {how}", flush=True)

    raw, random_init, supervised = floors(cache, args, config.encoder, work)

    run_dir = work / f"run-{int(time.time())}"
    started = time.perf_counter()
    result = run_pretraining(config, cache, run_dir)
    wall = time.perf_counter() - started
    encoder, meta = load_encoder(result.encoder_path)
    ssl = evaluate_encoder(encoder, cache, config=probe_config(args, args.readout),
                           device=args.device, model={"kind": "ssl"})
    ssl.write(run_dir / probe_file(args.readout))  # for --against and --pool in a later run

    print(f"\npretraining: {result.epochs_completed} epochs in {wall / 60:.1f} min wall "
          f"({result.pairs_per_second:.0f} pairs/s of training steps, precision "
          f"{meta['config']['precision']}); run folder {run_dir}")
    curve = [f"{row['epoch']:.0f}:{row['knn_auroc']:.3f}" for row in result.history
             if "knn_auroc" in row]
    print(f"kNN monitor AUROC by epoch: {' '.join(curve)}")
    report(raw, random_init, ssl, f"{config.method} {config.encoder}", run_dir, args,
           supervised)


def reprobe(run_dir: Path, cache: PreparedCache, work: Path, args: argparse.Namespace) -> None:
    """Probe a finished run's encoder again (another readout, say); nothing is trained."""
    config = pretrain_config(run_dir, ENCODER_FILE)
    if config.get("image_size") not in (None, cache.size):
        raise SystemExit(f"{run_dir} was pretrained at {config['image_size']} px, this cache "
                         f"is {cache.size} px: give --data/--size as for that run")
    encoder, _ = load_encoder(run_dir / ENCODER_FILE)
    print(f"reprobe of {run_dir} ({config['method']} {config['encoder']}, seed "
          f"{config['seed']}, {config['epochs']} epochs), readout {args.readout}", flush=True)
    raw, random_init, supervised = floors(cache, args, config["encoder"], work)
    started = time.perf_counter()
    ssl = evaluate_encoder(encoder, cache, config=probe_config(args, args.readout),
                           device=args.device, model={"kind": "ssl"})
    print(f"  encoder probed in {time.perf_counter() - started:.0f} s", flush=True)
    ssl.write(run_dir / probe_file(args.readout))
    report(raw, random_init, ssl, f"{config['method']} {config['encoder']}", run_dir, args,
           supervised)


def report(raw: RunMetrics, random_init: RunMetrics, ssl: RunMetrics, label: str,
           run_dir: Path, args: argparse.Namespace, supervised: RunMetrics | None = None) -> None:
    """The run's table beside the floors, then --against and --pool figures."""
    print(f"\nreadout {args.readout}")
    print("| model | AUROC 10% labels | AUROC 100% labels | SSL - raw, 10% | SSL - raw, 100% |")
    print("|---|---|---|---|---|")
    rows = [("raw pixels", raw), ("random init", random_init), (label, ssl)]
    if supervised is not None:
        rows.insert(2, (f"supervised {supervised.model.get('encoder_name', '')}", supervised))
    for name, metrics in rows:
        cells = [f"{v:.3f} [{lo:.3f}, {hi:.3f}]" for v, lo, hi in
                 (auroc(metrics, 0.1), auroc(metrics, 1.0))]
        diffs = ["", ""]
        if metrics is ssl:
            diffs = [paired(raw, ssl, 0.1), paired(raw, ssl, 1.0)]
        print(f"| {name} | {cells[0]} | {cells[1]} | {diffs[0]} | {diffs[1]} |")
    if supervised is not None:  # paired() checks the two were probed on the same images
        print(f"SSL - supervised: {paired(supervised, ssl, 0.1)} at 10% labels, "
              f"{paired(supervised, ssl, 1.0)} at 100% (paired patient bootstrap)")
    for earlier in args.against:
        other = RunMetrics.read(readout_probe(earlier, args.against_readout))
        print(f"this run ({args.readout}) - {earlier.name} ({args.against_readout} readout): "
              f"{paired(other, ssl, 0.1)} at 10% labels, {paired(other, ssl, 1.0)} at 100% "
              "(paired patient bootstrap)")
    if args.pool:
        pooled_table(raw, [run_dir, *args.pool], args)
    ten = auroc(ssl, 0.1)[0] - auroc(raw, 0.1)[0]
    full = auroc(ssl, 1.0)[0] - auroc(raw, 1.0)[0]
    print(f"\nSSL - raw: {ten:+.3f} at 10% labels, {full:+.3f} at 100%")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
