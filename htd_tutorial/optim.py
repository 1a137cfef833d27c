"""Optimisers: the paper's dense Adam and a row-wise "lazy" Adam for fast CPU training.

The paper trains with Adam (lr 1e-3) and L2 weight decay 1e-3 added to the gradient. With
embedding tables, that gradient is dense: every row of a 25k x 200 item table is read and written
at every step, although a batch touches ~2k rows. :class:`LazyAdam` updates only the touched rows
(their moments, their weight decay), which makes a CiteULike epoch several times faster. It is a
different optimiser - rows that are not in the batch are not decayed - so
``benchmarks/bench_foundation.py`` reports the accuracy of both.
"""
from __future__ import annotations

import torch

from ._checks import known
from .choices import OPTIMIZERS

__all__ = ["PaperAdam", "LazyAdam", "make_optimizer", "OPTIMIZERS"]


class PaperAdam(torch.optim.Adam):
    """``torch.optim.Adam`` with L2 weight decay, accepting sparse embedding gradients.

    The update is exactly the paper's optimiser: every row is decayed and moved at every step.
    A sparse gradient is scattered into a dense buffer kept between steps; only the rows written at
    the previous step are cleared, instead of zero-filling (and allocating) the whole table each
    time, which is what made a dense-Adam epoch slow on a CPU.
    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.0):
        fused = {"fused": True} if _fused_adam_available() else {"foreach": True}
        super().__init__(params, lr=lr, weight_decay=weight_decay, **fused)
        self._buffers: dict[torch.Tensor, tuple[torch.Tensor, torch.Tensor | None]] = {}

    @torch.no_grad()
    def step(self, closure=None):  # noqa: D102 - same contract as torch.optim.Adam.step
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and p.grad.is_sparse:
                    grad = p.grad.coalesce()
                    buffer, last_rows = self._buffers.get(p, (None, None))
                    if buffer is None:
                        buffer = torch.zeros_like(p)
                    elif last_rows is not None:
                        buffer.index_fill_(0, last_rows, 0.0)
                    rows = grad.indices()[0]
                    buffer.index_add_(0, rows, grad.values())
                    self._buffers[p] = (buffer, rows)
                    p.grad = buffer
        return super().step(closure)


def _fused_adam_available() -> bool:
    try:
        probe = torch.zeros(1, requires_grad=True)
        probe.grad = torch.zeros(1)
        torch.optim.Adam([probe], fused=True).step()
        return True
    except (RuntimeError, TypeError):
        return False


class LazyAdam(torch.optim.Optimizer):
    """Adam that, for sparse gradients, updates only the rows present in the gradient.

    Dense gradients get the ordinary Adam update. For a sparse gradient with rows ``r``:
    ``g_r += weight_decay * p_r``; the moments of rows ``r`` are updated; ``p_r`` moves by
    ``lr * m_hat / (sqrt(v_hat) + eps)``; other rows are left untouched. Bias correction uses the
    optimiser's global step count (as TensorFlow's LazyAdam does).

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters to optimise.
    lr : float
        Learning rate.
    betas : tuple of float
        Adam's moment decay rates.
    eps : float
        Denominator term for numerical stability.
    weight_decay : float
        L2 penalty added to the gradient (as the paper's Adam does).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        if lr <= 0 or weight_decay < 0:
            raise ValueError(f"need lr > 0 and weight_decay >= 0, got lr={lr}, weight_decay={weight_decay}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):  # noqa: D102 - same contract as torch.optim.Optimizer.step
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                bias1 = 1 - beta1 ** state["step"]
                bias2 = 1 - beta2 ** state["step"]
                step_size = group["lr"] / bias1
                m, v = state["exp_avg"], state["exp_avg_sq"]
                if p.grad.is_sparse:
                    grad = p.grad.coalesce()
                    rows, values = grad.indices()[0], grad.values()
                    if group["weight_decay"]:
                        values = values + group["weight_decay"] * p[rows]
                    m_rows = m[rows].mul_(beta1).add_(values, alpha=1 - beta1)
                    v_rows = v[rows].mul_(beta2).addcmul_(values, values, value=1 - beta2)
                    m[rows] = m_rows
                    v[rows] = v_rows
                    denom = (v_rows / bias2).sqrt_().add_(group["eps"])
                    p.index_add_(0, rows, m_rows / denom, alpha=-step_size)
                else:
                    grad = p.grad
                    if group["weight_decay"]:
                        grad = grad.add(p, alpha=group["weight_decay"])
                    m.mul_(beta1).add_(grad, alpha=1 - beta1)
                    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                    denom = (v / bias2).sqrt_().add_(group["eps"])
                    p.addcdiv_(m, denom, value=-step_size)
        return loss


def make_optimizer(name: str, params, *, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """The optimiser ``name``: ``"adam"`` (the paper's dense Adam) or ``"lazy_adam"`` (row-wise updates,
    faster on CPU).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    known("optimizer", name, OPTIMIZERS)
    if params is None:
        raise ValueError("params must be the parameters to optimise, got None")
    params = [p for p in params if p.requires_grad]
    if name == "adam":
        return PaperAdam(params, lr=lr, weight_decay=weight_decay)
    return LazyAdam(params, lr=lr, weight_decay=weight_decay)


