"""Bayesian Personalised Ranking loss (Rendle et al., UAI 2009)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["bpr_loss"]


def bpr_loss(user_emb: torch.Tensor, pos_emb: torch.Tensor, neg_emb: torch.Tensor) -> torch.Tensor:
    """BPR loss ``-sum log sigmoid(<u, i+> - <u, i->)`` over a batch of triples.

    Summed over the batch (not averaged), as in the topology-distillation paper's code, so the
    distillation weight lambda = 1e-3 keeps the paper's meaning.

    Parameters
    ----------
    user_emb, pos_emb, neg_emb : Tensor, shape (B, d)
        Embeddings of each triple's user, positive item and sampled negative item.

    Returns
    -------
    Tensor
        A scalar.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    diff = (user_emb * (pos_emb - neg_emb)).sum(dim=1)
    return -F.logsigmoid(diff).sum()
