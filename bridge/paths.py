"""Path safety for paths that arrive over the network.

The OSC server takes file paths from any peer that can reach its port, so every path goes through
:class:`PathPolicy`: it must lie under one of the allowed folders (default: the working folder)
once symlinks are resolved, and it may not contain a ``..`` component at all. Relative paths
resolve against the first allowed folder -- never against the server's working folder.

The same policy covers the paths that files name, which a peer can write or choose: the plugin
and impulse-response files inside a preset and the ``source``/``stems`` audio of an
``analysis.json`` go through :meth:`PathPolicy.check` before anything opens them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from technob_fx.core.errors import PathError


class PathPolicy:
    """Which folders network-supplied paths may touch.

    Parameters
    ----------
    allowed : iterable of paths, optional
        Folders under which reads and writes are allowed (default: the current working folder).
        Each is resolved (symlinks followed) once, here.
    """

    def __init__(self, allowed: Iterable[str | Path] | None = None) -> None:
        folders = [Path(p) for p in (allowed or [])] or [Path.cwd()]
        self.allowed: list[Path] = []
        for folder in folders:
            real = Path(os.path.realpath(folder))
            if not real.is_dir():
                raise PathError(f"{folder}: allowed folder does not exist")
            self.allowed.append(real)

    @property
    def root(self) -> Path:
        """The folder relative paths resolve against (the first allowed folder)."""
        return self.allowed[0]

    def _inside(self, real: Path) -> bool:
        return any(real == a or a in real.parents for a in self.allowed)

    def resolve(self, path: str | Path, *, must_exist: bool = False, for_write: bool = False,
                file: bool = False) -> Path:
        """Check a network-supplied path and return its absolute, symlink-free form.

        Parameters
        ----------
        path : str or Path
            Absolute, or relative to :attr:`root`.
        must_exist : bool
            Raise unless the path exists.
        for_write : bool
            The path will be written: its parent folder must exist inside an allowed folder, and
            an existing symlink at the path itself is refused.
        file : bool
            The path will be read as a file: it must exist and not be a folder.

        Raises
        ------
        PathError
            Empty path, NUL byte, a ``..`` component, or a location outside every allowed folder
            (also when reached through a symlink).
        """
        text = os.fspath(path)
        if not text or not str(text).strip():
            raise PathError("empty path")
        if "\x00" in str(text):
            raise PathError("path contains a NUL byte")
        p = Path(text)
        if ".." in p.parts:
            raise PathError(f"{text}: '..' is not allowed in paths")
        if not p.is_absolute():
            p = self.root / p
        if for_write and p.is_symlink():
            raise PathError(f"{text}: refusing to write through a symlink")
        real = Path(os.path.realpath(p))
        if not self._inside(real):
            raise PathError(f"{text}: outside the allowed folders ({', '.join(map(str, self.allowed))})")
        if (must_exist or file) and not real.exists():
            raise PathError(f"{text}: no such file")
        if file and real.is_dir():
            raise PathError(f"{text}: is a folder; give a file")
        if for_write:
            if not real.parent.is_dir():
                raise PathError(f"{text}: folder {real.parent} does not exist")
            if real.is_dir():
                raise PathError(f"{text}: is a folder; give a file name")
        return real

    def check(self, path: str | Path, what: str) -> Path:
        """Check a path that a file names (a preset's plugin, an analysis' audio) and return its
        absolute, symlink-free form.

        Parameters
        ----------
        path : str or Path
            Absolute (relative paths are already joined with the naming file's folder by the
            reader; here they would resolve against :attr:`root`).
        what : str
            Where the path comes from, for the error message (``"preset.toml: chain[0].path"``).

        Raises
        ------
        PathError
            ``"<what> <path>: outside the allowed folders (...)"``; the file is never opened.
        """
        text = os.fspath(path)
        if not str(text).strip() or "\x00" in str(text):
            raise PathError(f"{what}: empty path or NUL byte")
        p = Path(text).expanduser()
        if not p.is_absolute():
            p = self.root / p
        real = Path(os.path.realpath(p))
        if not self._inside(real):
            raise PathError(f"{what} {text}: outside the allowed folders ({', '.join(map(str, self.allowed))})")
        return real

    def resolve_dir(self, path: str | Path, *, create: bool = False) -> Path:
        """Like :meth:`resolve` for an output folder; ``create`` makes it (one level) if missing."""
        real = self.resolve(path)
        if not real.exists() and create:
            if not real.parent.is_dir():
                raise PathError(f"{path}: folder {real.parent} does not exist")
            real.mkdir()
        if not real.is_dir():
            raise PathError(f"{path}: not a folder")
        return real
