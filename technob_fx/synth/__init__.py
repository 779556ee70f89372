"""Synthesised music with exact ground truth: the demo track and the test and benchmark fixtures."""

from .techno import (
    DEFAULT_STRUCTURE,
    SHORT_STRUCTURE,
    SynthTruth,
    synth_techno,
)

__all__ = ["DEFAULT_STRUCTURE", "SHORT_STRUCTURE", "SynthTruth", "synth_techno"]
