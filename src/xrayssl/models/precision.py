"""Which training precision a device runs fastest without losing the answer.

On a GPU, bf16 mixed precision where the card supports it, else fp16. On a CPU, bf16 mixed
precision only where the processor multiplies bf16 natively (AVX-512 BF16 or AMX): there it
roughly doubled pretraining throughput of a ResNet at 64 px; without those instructions
oneDNN emulates bf16 and it is slower than fp32, so fp32 stays the choice. The check reads
the CPU flags at run time (``/proc/cpuinfo`` on Linux), never the build machine's.
"""

from __future__ import annotations

from pathlib import Path

import torch

NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
CPUINFO = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: Path = CPUINFO) -> set[str]:
    """The feature flags of the first CPU listed in ``cpuinfo`` (empty when unreadable)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def cpu_has_native_bf16(cpuinfo: Path = CPUINFO) -> bool:
    return any(flag in cpu_flags(cpuinfo) for flag in NATIVE_BF16_FLAGS)


def auto_precision(on_gpu: bool, cpuinfo: Path = CPUINFO) -> str:
    """A Lightning precision string for ``precision: auto``."""
    if on_gpu:
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if cpu_has_native_bf16(cpuinfo) else "32-true"
