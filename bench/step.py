"""Speed of one pretraining step: encoders, memory layout, precision and ``torch.compile``.

A bare step loop on pre-made tensors (both views forward through our method's encoder and
head, its pair loss, backward, AdamW): what the model itself costs, without the data path
(``bench/pretrain.py`` measures that). Each variant is a fresh model of the same seed; rounds
alternate between the variants in one process, so machine drift falls on all of them alike,
and each round times ``--steps`` steps after one untimed step. Reported: the median pairs/s
over rounds and, for each variant, the median of its per-round ratio to the first variant.

    python bench/step.py                                   # resnet_tiny at 64 px, batch 128
    python bench/step.py --encoders resnet_tiny,resnet_tiny_wide --variants bf16-cl
    python bench/step.py --variants bf16-cl,bf16-cl-compile --rounds 6

Variants: ``fp32``, ``fp32-cl`` (channels_last), ``bf16``, ``bf16-cl`` (bf16 autocast),
and any of them with ``-compile`` (``torch.compile`` of the trainable modules, as
``--compile`` does in a run; the compile time is printed apart and kept out of the timed
steps).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import torch

from xrayssl.augment.views import parse_views
from xrayssl.models.datamodule import PairViews
from xrayssl.models.encoders import build_encoder
from xrayssl.models.methods import PairMethod, Schedule, build_method


@dataclass
class Variant:
    name: str
    method: PairMethod
    optimizer: torch.optim.Optimizer
    bf16: bool
    channels_last: bool
    compile_seconds: float = 0.0


def make_variant(encoder_name: str, spec: str, method: str, size: int) -> Variant:
    parts = spec.split("-")
    bf16, channels_last, compiled = "bf16" in parts, "cl" in parts, "compile" in parts
    torch.manual_seed(0)
    encoder = build_encoder(encoder_name, image_size=size)
    views = PairViews(parse_views("crop"))
    model = build_method(method, encoder, views=views, schedule=Schedule())
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.channels_last = channels_last
    if compiled:
        model.compile_in_place()  # what --compile does in a run
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    return Variant(f"{encoder_name} {spec}", model, optimizer, bf16, channels_last)


def step(variant: Variant, v1: torch.Tensor, v2: torch.Tensor) -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=variant.bf16):
        loss = variant.method.pair_loss(v1, v2)
    variant.optimizer.zero_grad(set_to_none=True)
    torch.autograd.backward(loss)
    variant.optimizer.step()


def views_for(variant: Variant, batch: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    v1 = torch.rand(batch, 1, size, size, generator=generator)
    v2 = torch.rand(batch, 1, size, size, generator=generator)
    if variant.channels_last:
        v1 = v1.contiguous(memory_format=torch.channels_last)
        v2 = v2.contiguous(memory_format=torch.channels_last)
    return v1, v2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", default="resnet_tiny")
    parser.add_argument("--variants", default="fp32,fp32-cl,bf16,bf16-cl,bf16-cl-compile")
    parser.add_argument("--method", default="simclr")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    variants: list[Variant] = []
    for encoder_name in args.encoders.split(","):
        for spec in args.variants.split(","):
            variant = make_variant(encoder_name, spec, args.method, args.size)
            v1, v2 = views_for(variant, args.batch_size, args.size)
            started = time.perf_counter()
            step(variant, v1, v2)  # compiles where asked; warms oneDNN's kernels
            variant.compile_seconds = time.perf_counter() - started
            variants.append(variant)
            print(f"built {variant.name}: first step {variant.compile_seconds:.1f} s", flush=True)

    rates: dict[str, list[float]] = {v.name: [] for v in variants}
    ratios: dict[str, list[float]] = {v.name: [] for v in variants}
    for round_no in range(args.rounds):
        order = variants[round_no % len(variants):] + variants[:round_no % len(variants)]
        this_round: dict[str, float] = {}
        for variant in order:
            v1, v2 = views_for(variant, args.batch_size, args.size)
            step(variant, v1, v2)
            started = time.perf_counter()
            for _ in range(args.steps):
                step(variant, v1, v2)
            this_round[variant.name] = args.steps * args.batch_size / (
                time.perf_counter() - started)
        for variant in variants:
            rates[variant.name].append(this_round[variant.name])
            ratios[variant.name].append(this_round[variant.name] / this_round[variants[0].name])
        print(f"round {round_no + 1}/{args.rounds}: " + ", ".join(
            f"{name} {rate:.0f}" for name, rate in this_round.items()), flush=True)

    print(f"\n{args.method}, {args.size} px, batch {args.batch_size}, {args.steps} steps x "
          f"{args.rounds} rounds, {torch.get_num_threads()} threads")
    print(f"| variant | pairs/s (median) | vs {variants[0].name} (median of round ratios) |")
    print("|---|---|---|")
    for variant in variants:
        print(f"| {variant.name} | {statistics.median(rates[variant.name]):.0f} | "
              f"{statistics.median(ratios[variant.name]):.2f}x |")


if __name__ == "__main__":
    main()
