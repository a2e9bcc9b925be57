"""``honch-hil mutation``: does the conformance suite notice a broken core or wrapper?"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.mutation.campaign import DEFAULT_EQUIVALENTS, Options


def register(subparsers) -> None:
    d = Options()
    p = subparsers.add_parser(
        "mutation", help="mutation testing of core/src (universalmutator) and honch/ (mutmut) on the host board",
        description="Generates mutants, builds each (a per-mutant _honch_core or honch/), runs the conformance "
                    "tests that reach the mutated line on the host board, and prints the score and every "
                    "surviving mutant. Exit status 0 only when both targets are met.")
    p.add_argument("--seed", type=int, default=d.seed, help=f"seed of the random sample (default {d.seed})")
    p.add_argument("--core-sample", type=int, default=d.core_sample, metavar="N",
                   help=f"core mutants that build to run (default {d.core_sample})")
    p.add_argument("--wrapper-sample", type=int, default=d.wrapper_sample, metavar="N",
                   help=f"wrapper mutants to run (default {d.wrapper_sample})")
    p.add_argument("--full", action="store_true", help="run every mutant (nightly)")
    p.add_argument("--jobs", type=int, default=d.jobs, metavar="N", help=f"mutants at a time (default {d.jobs})")
    p.add_argument("--kind", action="append", choices=("core", "wrapper"), help="only these (repeatable)")
    p.add_argument("--file", action="append", default=[], metavar="PATH",
                   help="only mutants of this repository-relative file (repeatable)")
    p.add_argument("--no-micropython", action="store_true",
                   help="do not try wrapper lines the host never runs on the unix board (MicroPython)")
    p.add_argument("--only", action="append", default=[], metavar="ID",
                   help="run just the mutant with this id (repeatable; ids are printed with each survivor)")
    p.add_argument("--survivors-of", type=Path, metavar="RESULTS_JSON",
                   help="run just the mutants that survived in an earlier run's results.json (after "
                        "strengthening the suite); the score then counts those mutants only")
    p.add_argument("--equivalents", type=Path, default=DEFAULT_EQUIVALENTS, metavar="TOML",
                   help="the reviewed equivalent mutants (default tests/mutation/equivalent.toml)")
    p.add_argument("--work", type=Path, default=d.work, metavar="DIR", help="build directory (default build/mutation)")
    p.set_defaults(func=_run)


def survivors_of(path: Path | None) -> set[str]:
    """Ids of the mutants an earlier run's results.json lists as survived."""
    if path is None:
        return set()
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        ids = {m["id"] for m in data["mutants"] if m["status"] == "survived"}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"--survivors-of {path}: not a results.json of honch-hil mutation ({exc})") from None
    if not ids:
        raise ValueError(f"--survivors-of {path}: no mutant survived in that run")
    return ids


def _run(args) -> int:
    from harness.mutation.campaign import Campaign, EquivalentsError, SelectionError, report, write_results
    from harness.mutation.mutants import MutationToolMissing

    for name in ("core_sample", "wrapper_sample", "jobs"):
        if getattr(args, name) < 1:
            print(f"honch-hil mutation: --{name.replace('_', '-')} must be ≥ 1", file=sys.stderr)
            return 2
    try:
        only = set(args.only) | survivors_of(args.survivors_of)
    except ValueError as exc:
        print(f"honch-hil mutation: {exc}", file=sys.stderr)
        return 2
    opts = Options(only=frozenset(only), work=args.work, seed=args.seed, core_sample=args.core_sample,
                   wrapper_sample=args.wrapper_sample, full=args.full, jobs=args.jobs,
                   kinds=tuple(args.kind or ("core", "wrapper")), equivalents=args.equivalents,
                   files=tuple(args.file), micropython=not args.no_micropython)
    campaign = Campaign(opts, log=lambda s: print(s, flush=True))
    try:
        results = campaign.run()
    except (MutationToolMissing, EquivalentsError, SelectionError) as exc:
        print(f"honch-hil mutation: {exc}", file=sys.stderr)
        return 2
    text, ok = report(results, campaign.generated, opts)
    path = write_results(results, campaign.generated, opts, text)
    print(text)
    print(f"results: {path}")
    return 0 if ok else 1
