"""Run by test_models_ddp.py as a script: Lightning's DDP launcher starts it once per rank.

    python pretrain_ddp_worker.py CACHE OUT DEVICES BATCH
"""

from __future__ import annotations

import sys
from pathlib import Path

import pretrain_tiny

from xrayssl.config.pretrain import PretrainConfig
from xrayssl.data.cache import PreparedCache
from xrayssl.models.pretrain import run_pretraining


def main() -> None:
    cache_root, out, devices, batch = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    config = PretrainConfig(
        method="simclr",
        encoder=pretrain_tiny.TINY_GN,  # GroupNorm: statistics do not depend on the split
        method_options={"projection_dim": 16, "head_batch_norm": False},
        policy="identity",  # the views do not depend on which rank draws them
        epochs=2, batch_size=int(batch), lr=1e-2, warmup_epochs=0, workers=0,
        accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto",
        # fp32: the losses are compared to 1e-4, finer than bf16 autocast rounds.
        precision="32-true",
        deterministic=True, monitor=False, progress=False, log_every_n_steps=1,
    )
    run_pretraining(config, PreparedCache.open(cache_root), out)


if __name__ == "__main__":
    main()
