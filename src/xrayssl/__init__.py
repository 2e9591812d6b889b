"""xrayssl: find the data augmentations that make self-supervised learning work on X-rays."""

from xrayssl.cpu_share import quiet_waiting

# Before PyTorch starts its OpenMP pool: waiting threads sleep instead of spinning, so runs that
# share cores do not starve each other (xrayssl.cpu_share).
quiet_waiting()

__version__ = "0.1.0"
