"""A small GRU next-token model over chord or melody tokens (an alternative to :class:`~.compose.NGram`).

One embedding (``embed`` wide), one GRU layer (``hidden`` units) and a linear read-out over the
token vocabulary, trained full-batch with Adam on the learned sequences (each led by the start
token ``"^"``). Training runs on the CPU with ``torch.manual_seed(seed)`` and one thread inside a
forked RNG state, so one seed gives the same weights bit for bit; the weights are stored in the
model's JSON as base64 float32 arrays (exact round trip).

:meth:`ChordGRU.distribution` has the :meth:`~.compose.NGram.distribution` interface, so
:func:`~.compose.compose` samples from either.
"""

from __future__ import annotations

import base64
import math
import time
from typing import Any

import numpy as np

START = "^"


class ChordGRU:
    """GRU language model over string tokens.

    Parameters
    ----------
    embed, hidden : int
        Embedding width and GRU units.
    context : int
        At most this many previous tokens are read by :meth:`distribution`.
    """

    def __init__(self, embed: int = 16, hidden: int = 32, context: int = 8) -> None:
        self.embed = int(embed)
        self.hidden = int(hidden)
        self.context = int(context)
        self.vocab: list[str] = []
        self.weights: dict[str, np.ndarray] = {}
        self.info: dict[str, Any] = {}
        self.seconds = 0.0
        self._net = None

    # -- torch network ----------------------------------------------------------------------
    def _build(self):  # noqa: ANN202
        import torch

        class _Net(torch.nn.Module):
            def __init__(self, n: int, e: int, h: int) -> None:
                super().__init__()
                self.emb = torch.nn.Embedding(n, e)
                self.gru = torch.nn.GRU(e, h, batch_first=True)
                self.out = torch.nn.Linear(h, n)

            def forward(self, x):  # noqa: ANN001, ANN202
                y, _ = self.gru(self.emb(x))
                return self.out(y)

        return _Net(len(self.vocab), self.embed, self.hidden)

    def _load_net(self):  # noqa: ANN202
        import torch

        if self._net is None:
            net = self._build()
            net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in self.weights.items()})
            net.eval()
            self._net = net
        return self._net

    def fit(self, sequences: list[list[str]], *, seed: int = 0, epochs: int = 30, lr: float = 0.02,
            weight_decay: float = 0.02, vocab: list[str] | None = None) -> ChordGRU:
        """Train on ``sequences`` (next-token cross-entropy, every position).

        Parameters
        ----------
        sequences : list of list of str
        seed : int
            ``torch.manual_seed`` of the initial weights (the training is otherwise deterministic).
        epochs : int
            Full-batch Adam steps (30 with ``weight_decay=0.02``: the best held-out log-likelihood
            of the settings tried on a 245-chord dataset; more steps over-fit so few chords).
        lr : float
        weight_decay : float
            Adam's L2 penalty.
        vocab : list of str, optional
            Tokens the model can predict besides those of ``sequences`` (e.g. all twelve roots, so
            an unseen one keeps a small probability).

        Returns
        -------
        ChordGRU
            ``self``; ``info`` holds ``{"loss", "epochs", "tokens"}``, ``seconds`` the training time.
        """
        import torch

        seqs = [[START] + list(s) for s in sequences if len(s) >= 1]
        self.vocab = sorted({t for s in seqs for t in s} | set(vocab or []))
        if not seqs or len(self.vocab) < 2:
            self.weights, self.info = {}, {"tokens": 0}
            return self
        idx = {t: i for i, t in enumerate(self.vocab)}
        n = max(len(s) for s in seqs)
        x = torch.zeros((len(seqs), n - 1), dtype=torch.long)
        y = torch.full((len(seqs), n - 1), -100, dtype=torch.long)
        for i, s in enumerate(seqs):
            ids = [idx[t] for t in s]
            x[i, :len(ids) - 1] = torch.tensor(ids[:-1])
            y[i, :len(ids) - 1] = torch.tensor(ids[1:])
        t0 = time.perf_counter()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seed))
                net = self._build()
                opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
                loss_f = torch.nn.CrossEntropyLoss(ignore_index=-100)
                loss = torch.tensor(0.0)
                for _ in range(int(epochs)):
                    opt.zero_grad()
                    loss = loss_f(net(x).reshape(-1, len(self.vocab)), y.reshape(-1))
                    loss.backward()
                    opt.step()
        finally:
            torch.set_num_threads(threads)
        net.eval()
        self.weights = {k: v.detach().numpy().astype(np.float32).copy() for k, v in net.state_dict().items()}
        self._net = None
        self.seconds = time.perf_counter() - t0  # not stored: model.json stays the same bytes
        self.info = {"loss": round(float(loss.detach()), 5),
                     "epochs": int(epochs), "tokens": int((y >= 0).sum())}
        return self

    def distribution(self, context: list[str]) -> dict[str, float]:
        """Next-token probabilities after ``context`` (its last :attr:`context` tokens; unknown
        tokens are skipped). The start token is never proposed."""
        import torch

        if not self.weights:
            return {}
        idx = {t: i for i, t in enumerate(self.vocab)}
        ids = [idx[START]] + [idx[t] for t in list(context)[-self.context:] if t in idx and t != START]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.no_grad():
                logits = self._load_net()(torch.tensor([ids]))[0, -1].double().numpy()
        finally:
            torch.set_num_threads(threads)
        p = np.exp(logits - logits.max())
        p[idx[START]] = 0.0
        p /= p.sum()
        return {t: float(v) for t, v in zip(self.vocab, p) if t != START}

    def to_dict(self) -> dict[str, Any]:
        """JSON form (weights as base64 little-endian float32 with their shapes)."""
        return {"kind": "gru", "embed": self.embed, "hidden": self.hidden, "context": self.context,
                "vocab": self.vocab, "info": self.info,
                "weights": {k: {"shape": list(v.shape),
                                "f32": base64.b64encode(v.astype("<f4").tobytes()).decode("ascii")}
                            for k, v in sorted(self.weights.items())}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChordGRU:
        """Inverse of :meth:`to_dict`."""
        m = cls(int(d["embed"]), int(d["hidden"]), int(d.get("context", 8)))
        m.vocab = list(d["vocab"])
        m.info = dict(d.get("info", {}))
        m.weights = {k: np.frombuffer(base64.b64decode(w["f32"]), "<f4").reshape(w["shape"]).astype(np.float32)
                     for k, w in d["weights"].items()}
        return m


def next_token_scores(model: Any, sequences: list[list[str]]) -> dict[str, float]:
    """Mean next-token log-likelihood (nats) and top-1 accuracy of a model on ``sequences``.

    ``model`` has a ``distribution(context)`` method (:class:`ChordGRU` or
    :class:`~.compose.NGram`); every position after the first is scored from the tokens before it
    in its sequence; a token the model gives no probability scores ``log(1e-6)``.

    Returns
    -------
    dict
        ``{"loglik", "accuracy", "n"}``.
    """
    ll, hit, n = 0.0, 0, 0
    for s in sequences:
        for i in range(len(s)):
            dist = model.distribution(list(s[:i]))
            p = dist.get(s[i], 0.0)
            ll += math.log(max(p, 1e-6))
            hit += int(bool(dist) and max(dist, key=lambda t: dist[t]) == s[i])
            n += 1
    return {"loglik": ll / max(n, 1), "accuracy": hit / max(n, 1), "n": n}
