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
#: The manifest :func:`separate` leaves in its output folder (read by :func:`find_stems`).
MANIFEST = "stems.json"
MANIFEST_SCHEMA = "technob-stems/1"


def default_out_dir(path: str | Path) -> Path:
    """Where stems of ``path`` go by default: ``<name>_stems/`` beside it."""
    p = Path(path)
    return p.parent / f"{p.stem}_stems"


def write_manifest(out_dir: str | Path, source: str | Path, stems: dict[str, Path], engine: str) -> Path:
    """Record in ``out_dir/stems.json`` which file the stems are of (absolute path) and their
    files (relative to ``out_dir``), so an export finds them without being told."""
    import json

    from ..core.io import atomic_write_text

    out = Path(out_dir)
    doc = {"schema": MANIFEST_SCHEMA, "source": str(Path(source).resolve()), "engine": engine,
           "stems": {k: Path(v).name if Path(v).parent.resolve() == out.resolve() else str(Path(v).resolve())
                     for k, v in stems.items()}}
    return atomic_write_text(out / MANIFEST, json.dumps(doc, indent=1) + "\n")


def find_stems(path: str | Path, *, search: list[str | Path] | tuple = ()) -> dict[str, Path]:
    """Stems a :func:`separate` run wrote for the audio file ``path``: the newest ``stems.json``
    whose source is that file, looked for in ``<name>_stems/`` beside it, in the folders beside it,
    and in ``search`` folders and their sub-folders. ``{}`` when none is found.

    Returns
    -------
    dict of str -> Path
        Stem name -> existing file.
    """
    import json
    import os

    src = Path(path)
    if not src.is_file():
        return {}
    places = [default_out_dir(src)] + [d for d in sorted(src.parent.iterdir()) if d.is_dir()]
    for folder in search:
        f = Path(folder)
        if f.is_dir():
            places += [f] + [d for d in sorted(f.iterdir()) if d.is_dir()]
    best: tuple[float, dict[str, Path]] | None = None
    seen: set[Path] = set()
    for d in places:
        m = d / MANIFEST
        if m in seen or not m.is_file():
            continue
        seen.add(m)
        try:
            doc = json.loads(m.read_text())
            same = os.path.samefile(doc["source"], src)
            files = {str(k): (d / v if not Path(v).is_absolute() else Path(v)) for k, v in doc["stems"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if same and files and all(p.is_file() for p in files.values()):
            mtime = m.stat().st_mtime
            if best is None or mtime > best[0]:
                best = (mtime, files)
    return best[1] if best else {}


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
        ``segment``, ``overlap``, ``shifts``, ``seed``, ``fmt``, ``bit_depth``.
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
        Stem or part name -> written file. ``out_dir/stems.json`` records them with the source
        (:func:`find_stems`).

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
        stems = func(path, out_dir, progress=progress, **options)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise ParameterError(f"engine {engine!r}: {exc}") from None
        raise
    write_manifest(out_dir, path, stems, engine)
    return stems
