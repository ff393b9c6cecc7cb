"""The ``diffad`` command: run chapters, build the book, prepare data.

Examples
--------
diffad run 01 --profile default -p epochs 3000 -p window 64
diffad book --profile smoke --strict
diffad data prepare --mirror ../shared/data
diffad params 01
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from diffad_lib import runner


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
    book.add_argument("--no-execute", action="store_true", help="build from the already executed notebooks")

    params = sub.add_parser("params", help="list a chapter's parameters, defaults and profiles")
    params.add_argument("chapter")

    data = sub.add_parser("data", help="datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    prep = data_sub.add_parser("prepare", help="verify and unpack datasets from a mirror or the upstream sources")
    prep.add_argument("datasets", nargs="*", help="dataset names (default: all)")
    prep.add_argument("--mirror", help="local mirror directory (default: $DIFFAD_DATA_MIRROR, else download)")
    prep.add_argument("--root", help="data root (default: $DIFFAD_DATA_ROOT or ~/.cache/diffad/data)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            out = runner.run_chapter(args.chapter, profile=args.profile,
                                     overrides=runner.parse_overrides(args.parameter), output=args.output)
            print(f"executed notebook: {out}")
        elif args.command == "book":
            runner.build_book(profile=args.profile, chapter_ids=args.chapters, strict=args.strict,
                              execute=not args.no_execute)
        elif args.command == "params":
            source = runner.resolve_chapter(args.chapter)
            print(f"{source.stem} parameters (defaults):")
            for name, default in runner.notebook_parameters(source).items():
                print(f"  {name} = {default}")
            for profile, values in runner.load_profiles().get(source.stem, {}).items():
                print(f"profile {profile}: {values}")
        elif args.command == "data":
            from diffad_lib.data import prepare

            root = prepare(args.datasets or None, root=args.root, mirror=args.mirror)
            print(f"data ready under {root}")
    except (ValueError, FileNotFoundError) as exc:
        print(f"diffad: error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"diffad: the book build failed (exit {exc.returncode}); see the Sphinx messages above", file=sys.stderr)
        return 1
    except Exception as exc:  # a failing cell: papermill saved the partial notebook with the traceback
        if type(exc).__name__ != "PapermillExecutionError":
            raise
        print(f"diffad: a cell failed: {exc.ename}: {exc.evalue}", file=sys.stderr)
        print("the executed notebook (with the traceback) was written to the output path", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
