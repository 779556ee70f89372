"""Key notations DJ software uses: Camelot, Open Key, rekordbox's classic names, Traktor's index.

Every function takes the key as :class:`~technob_fx.core.results.KeyEstimate` fields (``tonic``
with sharps as :data:`technob_fx.stages.key.PITCH_CLASSES` spells it, ``mode`` ``"major"`` or
``"minor"``); the estimate itself comes from :mod:`technob_fx.stages.key` (the one key).

Camelot wheel (Mixed In Key): minor keys are ``1A`` (A-flat minor) .. ``12A`` (D-flat minor), a
step of one number is a fifth; ``8A`` is A minor, ``8B`` its relative major C. Open Key
(Traktor's default display): ``1m`` = A minor, ``1d`` = C major. Traktor's ``MUSICAL_KEY
VALUE`` is ``pitch class + 12 * minor`` (0 = C major, 21 = A minor), as in Traktor collections
(``VALUE="7"`` beside ``KEY="2d"``, G major; ``VALUE="12"`` beside ``KEY="10m"``, C minor).
"""

from __future__ import annotations

import re

from technob_fx.core.errors import ParameterError
from technob_fx.stages.key import PITCH_CLASSES

_FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E",
          "E#": "F", "B#": "C"}
#: rekordbox's classic spelling (the Camelot wheel's: flats except F#), by pitch class.
_CLASSIC = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def pitch_class(tonic: str) -> int:
    """``"A"`` -> 9; sharps or flats (``"Bb"``, ``"A#"``); raises :class:`ParameterError`."""
    t = str(tonic).strip()
    t = t[:1].upper() + t[1:].replace("♯", "#").replace("♭", "b")
    t = _FLATS.get(t, t)
    if t not in PITCH_CLASSES:
        raise ParameterError(f"unknown key tonic {tonic!r}")
    return PITCH_CLASSES.index(t)


def _is_minor(mode: str) -> bool:
    m = str(mode).strip().lower()
    if m in ("minor", "min", "m"):
        return True
    if m in ("major", "maj", ""):
        return False
    raise ParameterError(f"unknown key mode {mode!r} (major or minor)")


def camelot(tonic: str, mode: str) -> str:
    """Camelot code of a key: ``camelot("A", "minor") == "8A"``, ``camelot("C", "major") == "8B"``."""
    pc = pitch_class(tonic)
    if _is_minor(mode):
        return f"{(7 * pc + 4) % 12 + 1}A"
    return f"{(7 * pc + 7) % 12 + 1}B"


def parse_camelot(code: str) -> tuple[int, str]:
    """``"8A"`` -> ``(8, "A")``; raises :class:`ParameterError` on anything else."""
    m = re.fullmatch(r"\s*(1[0-2]|[1-9])\s*([ABab])\s*", str(code))
    if not m:
        raise ParameterError(f"not a Camelot key: {code!r} (1A..12A, 1B..12B)")
    return int(m.group(1)), m.group(2).upper()


def from_camelot(code: str) -> tuple[str, str]:
    """``"8A"`` -> ``("A", "minor")`` (tonic with sharps)."""
    n, letter = parse_camelot(code)
    for pc in range(12):
        mode = "minor" if letter == "A" else "major"
        if camelot(PITCH_CLASSES[pc], mode) == f"{n}{letter}":
            return PITCH_CLASSES[pc], mode
    raise AssertionError("unreachable")  # pragma: no cover


def compatible(code: str) -> list[str]:
    """The Camelot key and its harmonic-mixing neighbours: same number other letter, +-1 same letter.

    >>> compatible("8A")
    ['8A', '7A', '9A', '8B']
    """
    n, letter = parse_camelot(code)
    other = "B" if letter == "A" else "A"
    return [f"{n}{letter}", f"{(n - 2) % 12 + 1}{letter}", f"{n % 12 + 1}{letter}", f"{n}{other}"]


def parse_key(text: str) -> str:
    """A user's key (``"8A"``, ``"A minor"``, ``"Am"``, ``"F#m"``, ``"Bb major"``) as a Camelot code."""
    s = str(text).strip()
    if re.fullmatch(r"(1[0-2]|[1-9])\s*[ABab]", s):
        n, letter = parse_camelot(s)
        return f"{n}{letter}"
    m = re.fullmatch(r"([A-Ga-g][#b♯♭]?)\s*(m|min|minor|maj|major)?", s, flags=re.IGNORECASE)
    if not m:
        raise ParameterError(f"not a key: {text!r} (e.g. 8A, 'A minor', Am, F#m, 'Bb major')")
    mode = m.group(2) or "major"
    return camelot(m.group(1), "minor" if mode.lower() in ("m", "min", "minor") else "major")


def rekordbox_tonality(tonic: str, mode: str) -> str:
    """rekordbox's classic key name for ``TRACK Tonality``: ``"Am"``, ``"F#m"``, ``"Bbm"``, ``"C"``."""
    name = _CLASSIC[pitch_class(tonic)]
    return name + "m" if _is_minor(mode) else name


def open_key(tonic: str, mode: str) -> str:
    """Open Key notation (Traktor's default display): ``"1m"`` = A minor, ``"1d"`` = C major."""
    n, letter = parse_camelot(camelot(tonic, mode))
    return f"{(n - 8) % 12 + 1}{'m' if letter == 'A' else 'd'}"


def traktor_key_value(tonic: str, mode: str) -> int:
    """Traktor's ``MUSICAL_KEY VALUE``: pitch class (0 = C) plus 12 for minor keys."""
    return pitch_class(tonic) + (12 if _is_minor(mode) else 0)
