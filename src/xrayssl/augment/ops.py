"""The registry of augmentation ops. Importing this module registers every op.

Add an op: subclass ``AugmentOp`` (or ``GeometricOp`` for an affine map) in a module here,
give it a ``name``, decorate it with ``@OPS.register()`` (its ``name`` is the key), declare its
``params``, import the module below, and add its test. Nothing else changes.
"""

from __future__ import annotations

from xrayssl.augment import (
    checkerboard_mask,
    chessboard,
    erasing,
    geometric,
    jigsaw,
    photometric,
)
from xrayssl.augment.base import OPS, AugmentOp, GeometricOp

__all__ = ["OPS", "AugmentOp", "GeometricOp", "checkerboard_mask", "chessboard", "erasing",
           "geometric", "jigsaw", "photometric"]
