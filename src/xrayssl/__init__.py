"""xrayssl: find the data augmentations that make self-supervised learning work on X-rays."""

__version__ = "0.1.0"
