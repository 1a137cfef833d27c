"""Command line: ``python -m htd_tutorial reproduce ...`` or ``... ablation ...`` (see ``--help``)."""
from __future__ import annotations

import argparse
import sys

from .experiments import METHODS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m htd_tutorial",
                                     description="Topology distillation course: experiments from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="the paper's capacity-gap sweep (resumable; finished runs are cached)")
    rep.add_argument("--data", default="citeulike", help="dataset name or path (default: citeulike)")
    rep.add_argument("--dims", type=int, nargs="+", default=[10, 20, 100, 200], help="student dimensions")
    rep.add_argument("--methods", nargs="+", default=["student", "de", "ftd", "htd"], choices=METHODS)
    rep.add_argument("--epochs", type=int, default=100, help="student epochs (paper: 100)")
    rep.add_argument("--teacher-epochs", type=int, default=100)
    rep.add_argument("--teacher-dim", type=int, default=200)
    rep.add_argument("--model", default="bpr", choices=["bpr", "lightgcn"])
    rep.add_argument("--mode", default="authors", choices=["authors", "clean"])
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--eval-every", type=int, default=10)
    rep.add_argument("--out", default="results", help="output folder (default: results)")
    rep.add_argument("--name", default=None, help="file-name stem (default: dataset name)")
    rep.add_argument("--no-progress", action="store_true")
    rep.add_argument("--cached-only", action="store_true",
                     help="train no student: table and figure from the finished runs only")
    abl = sub.add_parser("ablation", help="HTD: the authors' code vs the clean reading, one switch at a time")
    abl.add_argument("--data", default="citeulike", help="dataset name or path (default: citeulike)")
    abl.add_argument("--dim", type=int, default=20, help="student dimension (default: 20)")
    abl.add_argument("--epochs", type=int, default=100, help="student epochs (paper: 100)")
    abl.add_argument("--model", default="bpr", choices=["bpr", "lightgcn"])
    abl.add_argument("--base", default="authors", choices=["authors", "clean"],
                     help="the preset whose switches are flipped one at a time (default: authors)")
    abl.add_argument("--seeds", type=int, nargs="+", default=[0], help="student seeds (default: 0)")
    abl.add_argument("--baselines", nargs="*", default=[], choices=[m for m in METHODS if m != "htd"],
                     help="other methods at the same settings, for context (e.g. student ftd)")
    abl.add_argument("--teacher-epochs", type=int, default=100)
    abl.add_argument("--teacher-dim", type=int, default=200)
    abl.add_argument("--teacher-seed", type=int, default=0)
    abl.add_argument("--eval-every", type=int, default=10)
    abl.add_argument("--out", default="results", help="output folder (default: results)")
    abl.add_argument("--name", default=None, help="file-name stem (default: dataset name)")
    abl.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "reproduce":
        from .reproduce import reproduce
        try:
            reproduce(args.data, dims=tuple(args.dims), methods=tuple(args.methods), epochs=args.epochs,
                      teacher_dim=args.teacher_dim, teacher_epochs=args.teacher_epochs, kind=args.model,
                      mode=args.mode, seed=args.seed, eval_every=args.eval_every, out=args.out, name=args.name,
                      progress=not args.no_progress, cached_only=args.cached_only)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    elif args.command == "ablation":
        from .ablation import run_ablation
        try:
            run_ablation(args.data, dim=args.dim, epochs=args.epochs, kind=args.model, base=args.base,
                         seeds=tuple(args.seeds), teacher_dim=args.teacher_dim, teacher_epochs=args.teacher_epochs,
                         teacher_seed=args.teacher_seed, eval_every=args.eval_every,
                         baselines=tuple(args.baselines), out=args.out, name=args.name,
                         progress=not args.no_progress)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
