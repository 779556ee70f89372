"""One entry point for separating a file: demucs stems or harmonic/percussive parts.

>>> separate("track.wav", "stems/")                       # doctest: +SKIP
{'drums': PosixPath('stems/drums.wav'), 'bass': ..., 'other': ..., 'vocals': ...}
>>> separate("track.wav", "parts/", engine="hpss")        # doctest: +SKIP
{'harmonic': PosixPath('parts/harmonic.wav'), 'percussive': PosixPath('parts/percussive.wav')}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import ParameterError
from ..core.progress import ProgressCallback

ENGINES = ("demucs", "hpss")


def separate(
    path: str | Path,
    out_dir: str | Path,
    *,
    engine: str = "demucs",
    progress: ProgressCallback | None = None,
    **options: Any,
) -> dict[str, Path]:
    """Separate an audio file into stem files, streaming with bounded memory.

    Parameters
    ----------
    path : str or Path
        Input audio file (never modified).
    out_dir : str or Path
        Folder for the outputs (created).
    engine : {"demucs", "hpss"}
        ``"demucs"``: DNN stems (drums, bass, other, vocals, ...) with
        :func:`technob_fx.stages.stems.separate_file`; options ``model``, ``repo``, ``device``,
        ``segment``, ``overlap``, ``shifts``, ``window``, ``crossfade``, ``fmt``, ``bit_depth``.
        ``"hpss"``: harmonic / percussive (/ residual) parts with
        :func:`technob_fx.stages.hpss.hpss_file`; options ``parts``, ``margin_harmonic``,
        ``margin_percussive``, ``harmonic_kernel``, ``percussive_kernel``, ``n_fft``, ``fmt``,
        ``bit_depth``.
    progress : callable, optional
        ``progress(fraction, message)``.
    **options
        Passed to the engine's function.

    Returns
    -------
    dict of str -> Path
        Stem or part name -> written file.

    Raises
    ------
    ParameterError
        Unknown engine or option.
    ModelError
        demucs weights unavailable (nothing is written).
    """
    if engine == "demucs":
        from .stems import separate_file as func
    elif engine == "hpss":
        from .hpss import hpss_file as func
    else:
        raise ParameterError(f"separation engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    try:
        return func(path, out_dir, progress=progress, **options)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise ParameterError(f"engine {engine!r}: {exc}") from None
        raise
