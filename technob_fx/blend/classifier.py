"""A small CNN genre classifier on the dataset's log-mel chunks (torch, CPU).

The network sees crops of ``crop`` mel frames (128 frames = 3 s at 22.05 kHz, hop 512) of the
real (not zero-padded) part of each chunk, normalised by the training set's mean and standard
deviation: four 3x3 conv blocks (16-32-64-64 channels, batch norm, ReLU, 2x2 max-pool), global
average pooling, dropout and a linear layer (about 70 k parameters). Training takes random crops
with a random gain of +-6 dB and SpecAugment masks; a chunk or a whole track is classified by averaging the softmax
over crops spaced half a crop apart. Validation uses the dataset's split by source recording, so
the accuracy is on recordings the network never saw.

The checkpoint is ``classifier.pt`` (state dict, classes, normalisation, crop) and the figures
``classifier.json`` in the dataset folder.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ModelError, PathError
from ..core.progress import ProgressCallback

CHECKPOINT = "classifier.pt"
REPORT = "classifier.json"


def _net(n_classes: int, n_mels: int):  # noqa: ANN202 - torch.nn.Module
    import torch.nn as nn

    def block(cin: int, cout: int) -> list:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]

    return nn.Sequential(*block(1, 16), *block(16, 32), *block(32, 64), *block(64, 64),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(64, n_classes))


@dataclass
class TrainReport:
    """Figures of one training run.

    Attributes
    ----------
    classes : list of str
    train_chunks, val_chunks : int
    val_accuracy : float or None
        Share of validation chunks classified right (None without a validation split).
    val_recording_accuracy : float or None
        Share of validation recordings whose mean chunk probability is right.
    epochs : int
    seconds : float
    confusion : list of list of int
        ``[true][predicted]`` chunk counts on validation.
    """

    classes: list[str]
    train_chunks: int
    val_chunks: int
    val_accuracy: float | None
    val_recording_accuracy: float | None
    epochs: int
    seconds: float
    confusion: list[list[int]] = field(default_factory=list)


class GenreClassifier:
    """A trained classifier: :meth:`predict_proba` on audio or log-mels.

    Attributes
    ----------
    classes : list of str
    sample_rate : float
    config : DatasetConfig
        The mel settings it was trained on.
    """

    def __init__(self, net: Any, classes: list[str], mean: float, std: float, crop: int, config: Any) -> None:
        self.net = net.eval()
        self.classes = list(classes)
        self.mean, self.std, self.crop = float(mean), float(std), int(crop)
        self.config = config
        self.sample_rate = config.sample_rate

    def _crops(self, mel: np.ndarray) -> np.ndarray:
        n = mel.shape[1]
        if n < self.crop:
            mel = np.pad(mel, ((0, 0), (0, self.crop - n)), constant_values=-100.0)
            n = self.crop
        starts = list(range(0, n - self.crop + 1, max(1, self.crop // 2)))
        if starts[-1] != n - self.crop:
            starts.append(n - self.crop)
        return np.stack([mel[:, s:s + self.crop] for s in starts])

    def proba_mel(self, mel: np.ndarray) -> np.ndarray:
        """Class probabilities of a log-mel ``(n_mels, frames)``, averaged over crops.

        Returns
        -------
        np.ndarray, shape ``(n_classes,)``
        """
        import torch

        x = (self._crops(mel) - self.mean) / self.std
        with torch.no_grad():
            p = torch.softmax(self.net(torch.from_numpy(x[:, None].astype(np.float32))), dim=1)
        return p.mean(dim=0).numpy()

    def embed_mel(self, mel: np.ndarray) -> np.ndarray:
        """Embeddings of a log-mel's crops: the network's pooled features before its last layer.

        Returns
        -------
        np.ndarray, shape ``(n_crops, 64)``
        """
        import torch

        x = (self._crops(mel) - self.mean) / self.std
        body = self.net[:-2]  # up to Flatten (no dropout, no classifier layer)
        with torch.no_grad():
            return body(torch.from_numpy(x[:, None].astype(np.float32))).numpy()

    def embed(self, audio: np.ndarray, sr: float) -> np.ndarray:
        """Crop embeddings (``(n_crops, 64)``) of audio at any rate; see :meth:`embed_mel`."""
        from ..core.audio import as_audio
        from ..core.io import resample
        from .dataset import log_mel

        a, _ = as_audio(audio)
        mono = a.mean(axis=0)
        if float(sr) != self.sample_rate:
            mono = resample(mono, sr, self.sample_rate)
        return self.embed_mel(log_mel(mono, self.config))

    def predict_proba(self, audio: np.ndarray, sr: float) -> dict[str, float]:
        """Genre probabilities of audio (any length, resampled to the training rate).

        Parameters
        ----------
        audio : np.ndarray, shape ``(channels, samples)`` or ``(samples,)``
        sr : float
            Hz.

        Returns
        -------
        dict
            ``{genre: probability}``.
        """
        from ..core.audio import as_audio
        from ..core.io import resample
        from .dataset import log_mel

        a, _ = as_audio(audio)
        mono = a.mean(axis=0)
        if float(sr) != self.sample_rate:
            mono = resample(mono, sr, self.sample_rate)
        p = self.proba_mel(log_mel(mono, self.config))
        return {c: float(v) for c, v in zip(self.classes, p)}

    @classmethod
    def load(cls, dataset: str | Path) -> GenreClassifier:
        """The classifier saved in a dataset folder.

        Raises
        ------
        ModelError
            No or unreadable checkpoint.
        """
        import torch

        from .dataset import DatasetConfig

        path = Path(dataset) / CHECKPOINT
        if not path.exists():
            raise ModelError(f"{path}: no classifier; run `technob dataset train {dataset}`")
        try:
            ck = torch.load(path, map_location="cpu", weights_only=False)
            config = DatasetConfig(**ck["config"])
            net = _net(len(ck["classes"]), config.n_mels)
            net.load_state_dict(ck["state_dict"])
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"{path}: cannot load classifier ({exc})") from None
        return cls(net, ck["classes"], ck["mean"], ck["std"], ck["crop"], config)


def _load_mels(dataset: Path, rows: list[dict], hop: int) -> list[np.ndarray]:
    out = []
    for r in rows:
        mel = np.load(dataset / r["mel"])
        real = min(mel.shape[1], 1 + r["real_samples"] // hop)
        out.append(mel[:, :real])
    return out


def train_classifier(
    dataset: str | Path,
    *,
    epochs: int = 20,
    crop: int = 128,
    crops_per_chunk: int = 8,
    batch_size: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
    gain_db: float = 6.0,
    augment: bool = True,
    max_seconds: float = 300.0,
    split: dict[str, str] | None = None,
    save: bool = True,
    progress: ProgressCallback | None = None,
) -> tuple[GenreClassifier, TrainReport]:
    """Train the genre CNN on a dataset's train split; evaluate on its val split.

    Parameters
    ----------
    dataset : path
        Dataset folder (``manifest.csv`` with a ``split`` column).
    epochs : int
        Passes; each draws ``crops_per_chunk`` random crops of every training chunk.
    crop : int
        Mel frames per crop.
    gain_db : float
        Random gain of each training crop, +-dB (level is not the genre).
    augment : bool
        SpecAugment: mask one random mel band and one random time span (up to 1/8 each).
    max_seconds : float
        Stop after the epoch that passes this wall time.
    split : dict, optional
        ``{source_id: "train" | "val" | "skip"}`` instead of the manifest's split column.
    save : bool
        Write ``classifier.pt`` and ``classifier.json`` into ``dataset``.
    seed : int
        Seeds torch and numpy: same data, same weights.

    Returns
    -------
    (GenreClassifier, TrainReport)

    Raises
    ------
    PathError
        Fewer than two genres in the training split.
    """
    import torch
    import torch.nn.functional as F

    from ..core.io import atomic_write_bytes, atomic_write_text
    from .dataset import load_config, read_manifest

    t0 = time.perf_counter()
    dataset = Path(dataset)
    config = load_config(dataset)
    rows = read_manifest(dataset)
    classes = sorted({r["genre"] for r in rows})
    if split is not None:
        for r in rows:
            r["split"] = split.get(r["source_id"], "skip")
    train = [r for r in rows if r["split"] == "train"]
    val = [r for r in rows if r["split"] == "val"]
    if len({r["genre"] for r in train}) < 2:
        raise PathError(f"{dataset}: the training split needs chunks of at least two genres")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mels_tr = _load_mels(dataset, train, config.hop_length)
    y_tr = np.array([classes.index(r["genre"]) for r in train])
    allv = np.concatenate([m.reshape(-1) for m in mels_tr])
    mean, std = float(allv.mean()), float(allv.std() + 1e-6)
    net = _net(len(classes), config.n_mels)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-4)
    # class-balanced sampling: each epoch draws the same number of crops per class
    per_class = max(np.bincount(y_tr, minlength=len(classes)).max() * crops_per_chunk, batch_size)
    done_epochs = 0
    for epoch in range(epochs):
        net.train()
        idx = np.concatenate([rng.choice(np.nonzero(y_tr == c)[0], per_class) for c in range(len(classes))
                              if np.any(y_tr == c)])
        rng.shuffle(idx)
        for b in range(0, idx.size, batch_size):
            batch = idx[b:b + batch_size]
            xs = []
            for i in batch:
                m = mels_tr[i]
                if m.shape[1] < crop:
                    m = np.pad(m, ((0, 0), (0, crop - m.shape[1])), constant_values=-100.0)
                s = int(rng.integers(0, m.shape[1] - crop + 1))
                x = m[:, s:s + crop] + rng.uniform(-gain_db, gain_db)
                if augment:  # SpecAugment: one frequency band and one time span set to the mean
                    x = x.copy()
                    f0, fw = int(rng.integers(0, x.shape[0])), int(rng.integers(0, x.shape[0] // 8 + 1))
                    c0, cw = int(rng.integers(0, crop)), int(rng.integers(0, crop // 8 + 1))
                    x[f0:f0 + fw] = mean
                    x[:, c0:c0 + cw] = mean
                xs.append(x)
            x = torch.from_numpy(((np.stack(xs) - mean) / std)[:, None].astype(np.float32))
            loss = F.cross_entropy(net(x), torch.from_numpy(y_tr[batch]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        done_epochs = epoch + 1
        if progress:
            progress(done_epochs / epochs, f"epoch {done_epochs} loss {loss.item():.3f}")
        if time.perf_counter() - t0 > max_seconds:
            break
    clf = GenreClassifier(net, classes, mean, std, crop, config)
    acc = rec_acc = None
    confusion = [[0] * len(classes) for _ in classes]
    if val:
        mels_va = _load_mels(dataset, val, config.hop_length)
        probs = np.stack([clf.proba_mel(m) for m in mels_va])
        y_va = np.array([classes.index(r["genre"]) for r in val])
        pred = probs.argmax(axis=1)
        for t, p in zip(y_va, pred):
            confusion[t][p] += 1
        acc = float(np.mean(pred == y_va))
        recs: dict[str, list[int]] = {}
        for i, r in enumerate(val):
            recs.setdefault(r["source_id"], []).append(i)
        rec_acc = float(np.mean([probs[ix].mean(axis=0).argmax() == y_va[ix[0]] for ix in recs.values()]))
    report = TrainReport(classes, len(train), len(val), acc, rec_acc, done_epochs,
                         round(time.perf_counter() - t0, 2), confusion)
    if save:
        buf = io.BytesIO()
        torch.save({"state_dict": net.state_dict(), "classes": classes, "mean": mean, "std": std,
                    "crop": crop, "config": asdict(config)}, buf)
        atomic_write_bytes(dataset / CHECKPOINT, buf.getvalue())
        atomic_write_text(dataset / REPORT, json.dumps(asdict(report), indent=2) + "\n")
    return clf, report


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-3) -> float:
    """Frechet distance between Gaussians fitted to two sets of embeddings ``(n, d)``.

    ``|mu_a - mu_b|^2 + tr(Ca + Cb - 2 (Ca Cb)^(1/2))``, with ``eps * I`` added to each covariance
    (few crops, 64 dimensions).
    """
    from scipy.linalg import sqrtm

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ca = np.cov(a, rowvar=False) + eps * np.eye(a.shape[1])
    cb = np.cov(b, rowvar=False) + eps * np.eye(b.shape[1])
    root = sqrtm(ca @ cb)
    root = root.real if np.iscomplexobj(root) else root
    return float(np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2) + np.trace(ca + cb - 2.0 * root))


def cross_validate(
    dataset: str | Path,
    *,
    folds: int = 3,
    progress: ProgressCallback | None = None,
    **train_kwargs: Any,
) -> dict[str, Any]:
    """Grouped k-fold by source recording: every recording is classified by a network that never
    heard it (more validation chunks than one split gives on a small dataset).

    Recordings of each genre are ordered by their split hash and dealt to the folds in turn, so
    every fold holds out recordings of every genre with at least ``folds`` recordings.

    Parameters
    ----------
    folds : int
        Number of folds (>= 2).
    **train_kwargs
        Passed to :func:`train_classifier` (``save`` is forced off).

    Returns
    -------
    dict
        ``accuracy`` (chunks), ``recording_accuracy``, ``chunks``, ``recordings``, ``folds``,
        ``per_recording`` (``{source: [genre, mean probability of its genre]}``), ``classes`` and
        ``confusion`` / ``chunk_confusion`` (``[true][predicted]`` counts of held-out recordings /
        chunks).
    """
    from ..core.progress import scaled
    from .dataset import read_manifest, split_hash

    rows = read_manifest(dataset)
    by_genre: dict[str, list[str]] = {}
    names: dict[str, tuple[str, str]] = {}
    for r in rows:
        by_genre.setdefault(r["genre"], [])
        if r["source_id"] not in by_genre[r["genre"]]:
            by_genre[r["genre"]].append(r["source_id"])
        names[r["source_id"]] = (r["genre"], r["source"])
    fold_of = {}
    for ids in by_genre.values():
        for i, sid in enumerate(sorted(ids, key=split_hash)):
            fold_of[sid] = i % folds
    right = total = 0
    per_rec: dict[str, list] = {}
    rec_right: list[bool] = []
    classes = sorted(by_genre)
    confusion = [[0] * len(classes) for _ in classes]  # held-out recordings, [true][predicted]
    chunk_confusion = [[0] * len(classes) for _ in classes]
    for k in range(folds):
        split = {sid: ("val" if f == k else "train") for sid, f in fold_of.items()}
        if not any(v == "val" for v in split.values()):
            continue
        clf, _ = train_classifier(dataset, split=split, save=False,
                                  progress=scaled(progress, k / folds, (k + 1) / folds), **train_kwargs)
        for sid in (s for s, v in split.items() if v == "val"):
            genre, source = names[sid]
            mels = _load_mels(Path(dataset), [r for r in rows if r["source_id"] == sid], clf.config.hop_length)
            probs = np.stack([clf.proba_mel(m) for m in mels])
            g = clf.classes.index(genre)
            right += int(np.sum(probs.argmax(axis=1) == g))
            total += len(mels)
            per_rec[source] = [genre, round(float(probs[:, g].mean()), 4)]
            pred = int(probs.mean(axis=0).argmax())
            rec_right.append(pred == g)
            t = classes.index(genre)
            confusion[t][classes.index(clf.classes[pred])] += 1
            for p in probs.argmax(axis=1):
                chunk_confusion[t][classes.index(clf.classes[int(p)])] += 1
    rec_acc = float(np.mean(rec_right)) if rec_right else None
    return {"accuracy": right / total if total else None, "recording_accuracy": rec_acc, "chunks": total,
            "recordings": len(per_rec), "folds": folds, "per_recording": per_rec, "classes": classes,
            "confusion": confusion, "chunk_confusion": chunk_confusion}
