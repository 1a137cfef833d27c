"""Micro-benchmark of the distillation losses: forward + backward per batch, and per CiteULike epoch.

Random tensors of a CiteULike batch's shapes (batch 1024 -> on average 712 unique users and 1,916
unique items, measured on the paper's split; teacher dim 200, student dim 20, K = 30; 113 batches
per epoch; ``--users 1000`` gives a pessimistic batch). For each method it times one
distiller call plus ``backward`` plus the distiller's own Adam step (HTD's experts, ...), and prints
milliseconds per batch (wall clock), that times 113, i.e. seconds per epoch spent in distillation,
and the CPU time per batch (summed over threads; see :func:`time_call`). The student's BPR step
and optimiser are not included (the end-to-end benchmark times those).

HTD is timed at epoch 0 of 100 (temperature 1, every expert weight non-zero: the dense path), epoch 15
(temperature 0.03, about half the expert weights are exactly 0) and epoch 50 (temperature 1e-5, the
Gumbel-softmax is one-hot: the sparse path), in both modes.
``--naive`` adds the straightforward n x n / loop-over-experts references for comparison.
``--floor`` times HTD's dense mixture (:class:`~htd_tutorial.losses._fast.DenseMixture`, forward and
backward, both sides of a batch) beside its six matrix products alone, on tensors of the same shapes: how
far the dense epochs are from what their products cost (issue 37).

Usage::

    python benchmarks/bench_losses.py [--repeats 10] [--threads 2] [--naive] [--floor]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from htd_tutorial._threads import apply_thread_policy  # noqa: E402

apply_thread_policy()  # the package's OpenMP thread policy, before torch loads (importing htd_tutorial does it too)
import torch  # noqa: E402

from htd_tutorial.distill import make_distiller  # noqa: E402
from htd_tutorial.losses._fast import DenseMixture  # noqa: E402
from htd_tutorial.losses.ftd import ftd_loss_naive  # noqa: E402
from htd_tutorial.losses.htd import (entity_topology_naive, expert_mixture_naive,  # noqa: E402
                                     group_level_topology, gumbel_temperature, is_item_group, joint_groups)

CITEULIKE_USERS, CITEULIKE_ITEMS = 5220, 25182


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per method (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--batches", type=int, default=113, help="batches per epoch (CiteULike: 113)")
    parser.add_argument("--users", type=int, default=712, help="unique users per batch (CiteULike mean: 712)")
    parser.add_argument("--items", type=int, default=1916, help="unique items per batch (CiteULike mean: 1916)")
    parser.add_argument("--teacher-dim", type=int, default=200)
    parser.add_argument("--student-dim", type=int, default=20)
    parser.add_argument("--K", type=int, default=30)
    parser.add_argument("--naive", action="store_true", help="also time the n x n reference formulas")
    parser.add_argument("--floor", action="store_true",
                        help="also time the dense mixture against its products alone")
    args = parser.parse_args(argv)
    for name in ("repeats", "batches", "users", "items", "teacher_dim", "student_dim", "K"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    return args


def time_call(step, repeats: int, warmup: int) -> tuple[float, float]:
    """Median wall time and median process CPU time of ``step()``, in seconds.

    On a machine shared with other work the wall time suffers (a parallel region waits for a
    descheduled thread); CPU time does not, and with ``--threads 1`` it is the wall time an idle
    core would take.
    """
    for _ in range(warmup):
        step()
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    t_users = torch.randn(CITEULIKE_USERS, args.teacher_dim, generator=gen) * 0.1
    t_items = torch.randn(CITEULIKE_ITEMS, args.teacher_dim, generator=gen) * 0.1
    users = torch.randperm(CITEULIKE_USERS, generator=gen)[: args.users].sort().values
    items = torch.randperm(CITEULIKE_ITEMS, generator=gen)[: args.items].sort().values
    s_users = (torch.randn(args.users, args.student_dim, generator=gen) * 0.1).requires_grad_()
    s_items = (torch.randn(args.items, args.student_dim, generator=gen) * 0.1).requires_grad_()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch: {args.users} users + "
          f"{args.items} items, d_t={args.teacher_dim}, d_s={args.student_dim}, K={args.K}; "
          f"{args.batches} batches/epoch")
    print(f"{'method':<40}{'ms/batch':>10}{'s/epoch':>10}{'cpu ms/batch':>14}")

    def report(name: str, seconds: tuple[float, float]) -> None:
        wall, cpu = seconds
        print(f"{name:<40}{wall * 1e3:>10.1f}{wall * args.batches:>10.2f}{cpu * 1e3:>14.1f}", flush=True)

    cases = [("ftd", "authors", 0), ("ftd", "clean", 0), ("fitnet", "authors", 0), ("de", "authors", 0),
             ("de", "authors", 50)]
    for mode in ("authors", "clean"):
        cases += [("htd", mode, 0), ("htd", mode, 15), ("htd", mode, 50)]
    for method, mode, epoch in cases:
        distiller = make_distiller(method, t_users, t_items, args.student_dim, K=args.K, mode=mode)
        params = [p for p in distiller.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=1e-3) if params else None

        def step(distiller=distiller, opt=opt, epoch=epoch) -> None:
            s_users.grad = s_items.grad = None
            if opt is not None:
                opt.zero_grad(set_to_none=True)
            out = distiller(s_users, s_items, users, items, epoch, 100)
            out["loss"].backward()
            if opt is not None:
                opt.step()

        label = f"{method} ({mode})" if method in ("ftd", "htd") else method
        if method in ("de", "htd"):
            label += f", epoch {epoch} (tau={gumbel_temperature(epoch, 100):.0e})"
        report(label, time_call(step, args.repeats, args.warmup))

    if args.naive:
        s_all = torch.cat([s_users, s_items]).detach().requires_grad_()
        t_all = torch.cat([t_users[users], t_items[items]])
        report("ftd naive n x n", time_call(lambda: ftd_loss_naive(s_all, t_all).backward(), 3, 1))
        htd = make_distiller("htd", t_users, t_items, args.student_dim, K=args.K).htd

        def naive_htd() -> None:
            tau = 1.0
            total = 0.0
            groups = []
            for side, s, t in ((htd.users, s_users, t_users[users]), (htd.items, s_items, t_items[items])):
                alpha = side.alpha(t)
                z = side.sample_z(alpha, tau)
                total = total + (t - expert_mixture_naive(side, s, z)).square().sum()
                groups.append(alpha.detach().argmax(1))
            g = joint_groups(groups[0], groups[1], args.K)
            s_all2 = torch.cat([s_users, s_items])
            total = total + entity_topology_naive(s_all2, t_all, g) + group_level_topology(
                s_all2, t_all, g, is_item_group(g, args.K))
            total.backward()

        report("htd naive (loop, n x n), epoch 0", time_call(naive_htd, 3, 1))

    if args.floor:
        mixture, products = dense_floor(args, gen)
        report("htd dense mixture, forward + backward", time_call(mixture, args.repeats, args.warmup))
        report("  its six matrix products alone", time_call(products, args.repeats, args.warmup))


def dense_floor(args: argparse.Namespace, gen: torch.Generator):
    """Two steps: the dense mixture's forward and backward for a batch's users and items, and the six matrix
    products it makes (three (n x K*h) @ (K*h x d_t)-sized, three of width d_s + 1) on tensors of the same
    shapes, nothing else. Their ratio is what the element-wise work between the products costs."""
    d_s, d_t, k = args.student_dim, args.teacher_dim, args.K
    width = k * ((d_s + d_t) // 2)                     # the experts' stacked hidden layers (3,300 here)
    w1 = (torch.randn(d_s, width, generator=gen) * 0.2).requires_grad_()
    b1 = torch.zeros(width, requires_grad=True)
    w2 = (torch.randn(width, d_t, generator=gen) * 0.1).requires_grad_()
    b2 = torch.zeros(k, d_t, requires_grad=True)
    sides = [((torch.randn(n, d_s, generator=gen)).requires_grad_(),
              torch.softmax(torch.randn(n, k, generator=gen), 1).requires_grad_(),
              torch.randn(n, d_t, generator=gen)) for n in (args.users, args.items)]
    hidden = [torch.randn(n, width, generator=gen).clamp_min(0) for n in (args.users, args.items)]
    s1 = [torch.randn(n, d_s + 1, generator=gen) for n in (args.users, args.items)]
    w1b, w2_, w2t = torch.randn(d_s + 1, width, generator=gen), w2.detach(), w2.detach().T.contiguous()

    def mixture() -> None:
        for student, z, grad in sides:
            DenseMixture.apply(student, z, w1, b1, w2, b2).backward(grad)

    def products() -> None:
        for (_, _, grad), h, s in zip(sides, hidden, s1):
            s @ w1b, h @ w2_, h.T @ grad, grad @ w2t, h @ w1.detach().T, s.T @ h

    return mixture, products


if __name__ == "__main__":
    main()
