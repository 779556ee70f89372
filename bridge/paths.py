"""Path safety for paths that arrive over the network.

The OSC server takes file paths from any peer that can reach its port, so every path goes through
:class:`PathPolicy`: it must lie under one of the allowed folders (default: the working folder)
once symlinks are resolved, and it may not contain a ``..`` component at all. Relative paths
resolve against the first allowed folder.
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

    def resolve(self, path: str | Path, *, must_exist: bool = False, for_write: bool = False) -> Path:
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
        if must_exist and not real.exists():
            raise PathError(f"{text}: no such file")
        if for_write:
            if not real.parent.is_dir():
                raise PathError(f"{text}: folder {real.parent} does not exist")
            if real.is_dir():
                raise PathError(f"{text}: is a folder; give a file name")
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
