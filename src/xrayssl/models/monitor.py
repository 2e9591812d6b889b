"""Online kNN monitor: is the encoder learning? Checked each epoch on a labelled split.

Features of a labelled "bank" (training images) and a "query" split (validation images) are
compared by cosine similarity; each query takes a similarity-weighted vote of its ``k``
nearest bank images (the weighting of Wu et al. 2018, used by lightly's benchmarks). Reported:
accuracy and, for two classes, AUROC of the vote share of class 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from xrayssl.data.cache import PreparedCache
from xrayssl.models.encoders import Encoder


@dataclass
class KNNMonitor:
    cache: PreparedCache
    bank: np.ndarray  # cache indices with labels (training images)
    query: np.ndarray  # cache indices with labels (validation images)
    k: int = 20
    temperature: float = 0.07
    batch_size: int = 256
    image_size: int | None = None

    @classmethod
    def choose(
        cls,
        cache: PreparedCache,
        bank_candidates: np.ndarray,
        query_candidates: np.ndarray,
        *,
        max_bank: int,
        max_query: int,
        seed: int,
        k: int = 20,
        image_size: int | None = None,
    ) -> tuple[KNNMonitor | None, str]:
        """A monitor on labelled subsets, or ``(None, reason)`` when the data cannot support one."""
        labels = cache.labels
        bank = bank_candidates[labels[bank_candidates] >= 0]
        query = query_candidates[labels[query_candidates] >= 0]
        if len(bank) == 0 or len(query) == 0:
            return None, "no labelled images for the kNN monitor (needs labelled train and query)"
        if len(np.unique(labels[bank])) < 2:
            return None, "the kNN monitor needs at least two classes among labelled images"
        rng = np.random.default_rng(seed)
        if len(bank) > max_bank:
            bank = np.sort(rng.choice(bank, max_bank, replace=False))
        if len(query) > max_query:
            query = np.sort(rng.choice(query, max_query, replace=False))
        monitor = cls(cache, bank, query, k=min(k, len(bank)), image_size=image_size)
        return monitor, f"kNN monitor: {len(bank)} bank images, {len(query)} query images"

    @torch.no_grad()
    def features(self, encoder: Encoder, indices: np.ndarray, device: torch.device) -> torch.Tensor:
        chunks = []
        for start in range(0, len(indices), self.batch_size):
            rows = indices[start:start + self.batch_size]
            u8 = torch.from_numpy(np.ascontiguousarray(self.cache.images[rows])).to(device)
            x = u8.unsqueeze(1).float().div_(255)  # (b, 1, S, S)
            if self.image_size is not None and x.shape[-1] != self.image_size:
                x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear",
                                  antialias=True).clamp_(0, 1)
            chunks.append(F.normalize(encoder(x).float(), dim=1))
        return torch.cat(chunks)  # (N, D), unit length

    @torch.no_grad()
    def evaluate(self, encoder: Encoder, device: torch.device) -> dict[str, float]:
        was_training = encoder.training
        encoder.eval()
        try:
            bank = self.features(encoder, self.bank, device)  # (Nb, D)
            query = self.features(encoder, self.query, device)  # (Nq, D)
        finally:
            encoder.train(was_training)
        labels = self.cache.labels
        classes = np.unique(labels[self.bank])
        bank_y = torch.from_numpy(np.searchsorted(classes, labels[self.bank])).to(device)
        scores = knn_vote(query, bank, bank_y, len(classes), self.k, self.temperature)
        scores_np = scores.cpu().numpy()  # (Nq, C)
        query_y = labels[self.query]
        predicted = classes[scores_np.argmax(1)]
        result = {"knn_accuracy": float(np.mean(predicted == query_y))}
        if len(classes) == 2 and len(np.unique(query_y)) == 2:
            positive = scores_np[:, 1] / np.maximum(scores_np.sum(1), 1e-12)
            result["knn_auroc"] = float(roc_auc_score(query_y == classes[1], positive))
        return result


def knn_vote(
    query: torch.Tensor,
    bank: torch.Tensor,
    bank_labels: torch.Tensor,
    num_classes: int,
    k: int,
    temperature: float,
) -> torch.Tensor:
    """Similarity-weighted class votes of the ``k`` nearest bank rows: ``(Nq, C)``."""
    sim = query @ bank.T  # (Nq, Nb) cosine similarities (rows are unit length)
    top_sim, top_idx = sim.topk(k, dim=1)  # (Nq, k)
    weights = (top_sim / temperature).exp()  # (Nq, k)
    one_hot = F.one_hot(bank_labels[top_idx], num_classes).float()  # (Nq, k, C)
    return (weights.unsqueeze(-1) * one_hot).sum(1)  # (Nq, C)
