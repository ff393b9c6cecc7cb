"""The ``diffad`` command: run chapters, build the book, prepare data.

Examples
--------
diffad run 01 --profile default -p epochs 3000 -p window 64
diffad book --profile smoke --strict --jobs 2
diffad book --no-execute --chapters 01
diffad data prepare --mirror ../shared/data
diffad params 01
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from diffad_lib import runner


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def _one_line(text: str) -> str:
    """Messages are single lines: a multi-line exception text is joined with ' / '."""
    return " / ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _os_error(exc: OSError) -> str:
    if exc.filename and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc.strerror or exc)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="diffad", description="Diffusion models for anomaly detection: book and library.")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute one chapter with papermill")
    run.add_argument("chapter", help="chapter id (01, 02, ...) or notebook name")
    run.add_argument("--profile", default="default", choices=runner.PROFILES)
    run.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                     help="override a parameter (value read as YAML); repeatable")
    run.add_argument("-o", "--output", help="executed notebook path (default book/chapters/<name>.ipynb)")

    book = sub.add_parser("book", help="execute every chapter and build the HTML book")
    book.add_argument("--profile", default="default", choices=runner.PROFILES)
    book.add_argument("--strict", action="store_true", help="warnings are errors (-W -n --keep-going)")
    book.add_argument("--chapters", nargs="+", help="only these chapter ids")
    book.add_argument("--no-execute", action="store_true",
                      help="build from the already executed notebooks (refused if one is failed, partial or stale)")
    book.add_argument("--jobs", "-j", type=_positive_int, default=None,
                      help=f"chapters run at a time, each in its own process (default: cores, {runner.default_jobs()})")

    params = sub.add_parser("params", help="list a chapter's parameters, defaults and profiles")
    params.add_argument("chapter")

    board = sub.add_parser("leaderboard", help="every series method on SMAP, MSL, SMD, NAB and UCR; writes JSON")
    board.add_argument("--profile", default="default",
                       help="smoke, default, dev (the development series) or full (default: default)")
    board.add_argument("--datasets", nargs="*", default=None, help="subset of SMAP MSL SMD NAB UCR (default: all)")
    board.add_argument("--methods", nargs="*", default=None, help="registry names (default: every series method)")
    board.add_argument("--jobs", "-j", type=_positive_int, default=1, help="series scored at a time (default 1)")
    board.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("METHOD.NAME", "VALUE"),
                       help="set a method's parameter on top of the profile (value read as YAML), "
                            "e.g. -p diffusion.min_steps 12000; repeatable")
    board.add_argument("--output", "-o", default=None,
                       help="JSON file (default: results/leaderboard_<profile>.json in the repository)")

    data = sub.add_parser("data", help="datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    prep = data_sub.add_parser("prepare", help="verify and unpack datasets from a mirror or the upstream sources")
    prep.add_argument("datasets", nargs="*", help="dataset names (default: all)")
    prep.add_argument("--mirror", help="local mirror directory (default: $DIFFAD_DATA_MIRROR, else download)")
    prep.add_argument("--root", help="data root (default: $DIFFAD_DATA_ROOT or ~/.cache/diffad/data)")
    return p


def _run(args: argparse.Namespace) -> None:
    if args.command == "run":
        out = runner.run_chapter(args.chapter, profile=args.profile,
                                 overrides=runner.parse_overrides(args.parameter), output=args.output)
        print(f"executed notebook: {out}")
    elif args.command == "book":
        runner.build_book(profile=args.profile, chapter_ids=args.chapters, strict=args.strict,
                          execute=not args.no_execute, jobs=args.jobs)
    elif args.command == "params":
        source = runner.resolve_chapter(args.chapter)
        print(f"{source.stem} parameters (defaults):")
        for name, default in runner.notebook_parameters(source).items():
            print(f"  {name} = {default}")
        for profile, values in runner.load_profiles().get(source.stem, {}).items():
            print(f"profile {profile}: {values}")
    elif args.command == "leaderboard":
        from diffad_lib.leaderboard import DATASETS, parse_overrides, run_leaderboard

        overrides = parse_overrides(args.parameter)
        if overrides and not args.output:
            raise ValueError("a run with -p is a variant: name its file with --output, so it does not replace "
                             f"results/leaderboard_{args.profile}.json")
        output = args.output or runner.repo_root() / "results" / f"leaderboard_{args.profile}.json"
        doc = run_leaderboard(profile=args.profile, datasets=args.datasets or DATASETS, methods=args.methods,
                              jobs=args.jobs, output=output, overrides=overrides)
        print(f"leaderboard ({doc['meta']['seconds']} s) written to {output}")
    elif args.command == "data":
        from diffad_lib.data import prepare

        try:
            root = prepare(args.datasets or None, root=args.root, mirror=args.mirror)
        except OSError as exc:
            where = args.root or os.environ.get("DIFFAD_DATA_ROOT") or "the default data root"
            raise OSError(exc.errno, f"cannot prepare the data under {where} ({_os_error(exc)})") from None
        print(f"data ready under {root}")


def main(argv: list[str] | None = None) -> int:
    """Run the ``diffad`` command; return its exit status.

    Every error ends in one line on stderr and a non-zero status, never a traceback: 2 for a
    bad argument or parameter, 1 for a failed chapter, book build or file operation, 130 when
    interrupted. ``DIFFAD_DEBUG=1`` re-raises unexpected errors with their traceback.
    """
    args = _parser().parse_args(argv)
    try:
        _run(args)
    except (ValueError, TypeError) as exc:
        print(f"diffad: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except runner.ChapterError as exc:
        print(f"diffad: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"diffad: the book build failed (exit {exc.returncode}); see the Sphinx messages above", file=sys.stderr)
        return 1
    except OSError as exc:  # FileNotFoundError, PermissionError, NotADirectoryError, a full disk ...
        print(f"diffad: error: {_one_line(_os_error(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("diffad: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("DIFFAD_DEBUG"):
            raise
        print(f"diffad: error: {type(exc).__name__}: {_one_line(exc)} (DIFFAD_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
