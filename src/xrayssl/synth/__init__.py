"""Synthetic radiographs of the upper limb, laid out as MURA v1.1, with lesion masks.

``generate_dataset(out, parts=..., patients=..., size=256, seed=0, difficulty="medium")``
renders the dataset; ``render_contact_sheet`` draws normal and abnormal examples per part.
"""

from xrayssl.synth.dataset import generate_dataset, parse_parts
from xrayssl.synth.lesions import KINDS
from xrayssl.synth.study import DIFFICULTY_LEVELS, parse_difficulty

__all__ = ["DIFFICULTY_LEVELS", "KINDS", "generate_dataset", "parse_difficulty", "parse_parts"]
