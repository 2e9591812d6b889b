"""xrayssl: find the data augmentations that make self-supervised learning work on X-rays."""

from xrayssl.cpu_share import quiet_waiting

# Before PyTorch starts its OpenMP pool: waiting threads sleep instead of spinning, so runs that
# share cores do not starve each other (xrayssl.cpu_share).
quiet_waiting()

__version__ = "0.1.0"

# The Python API (xrayssl.api), loaded on first use so that ``import xrayssl`` stays light.
API = ("Policy", "Study", "prepare", "pretrain", "probe", "report", "results")
__all__ = ["__version__", *API]


def __getattr__(name: str) -> object:
    if name in API:
        from xrayssl import api

        return getattr(api, name)
    raise AttributeError(f"module 'xrayssl' has no attribute {name!r}")
