"""``thrifty lint SCHEMA.json ... [--prompt PROMPT.txt ...] [--json]``.

Exit status: 0 when nothing was found, 1 when there are findings, 2 when a file cannot be
read or is not JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from thrifty.lint.findings import Finding
from thrifty.lint.prompt import lint_prompt
from thrifty.lint.schema import lint_schema

__all__ = ["add_parser", "run"]

MAX_FILE_BYTES = 10 * 2**20


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    lint: argparse.ArgumentParser = sub.add_parser(
        "lint",
        help="flag schemas and prompts that invite long answers",
        parents=parents,
        description="Flag JSON schemas (response formats, tools) and prompts that invite "
        "long output: free-text confidence and reasoning fields, unbounded arrays, "
        "categories without enums, repeated descriptions, requests for detail.",
    )
    lint.add_argument("schemas", nargs="*", metavar="SCHEMA", help="JSON schema files")
    lint.add_argument(
        "--prompt", action="append", default=[], metavar="FILE", help="a prompt text file"
    )
    lint.add_argument("--json", action="store_true", help="machine-readable output")
    lint.set_defaults(func=run)
    return lint


def _read(path: str) -> str:
    file = Path(path)
    if file.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // 2**20} MiB")
    return file.read_text(encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    if not args.schemas and not args.prompt:
        print("thrifty lint: give a schema file, or --prompt FILE", file=sys.stderr)
        return 2
    findings: list[Finding] = []
    try:
        for path in args.schemas:
            try:
                document = json.loads(_read(path))
            except json.JSONDecodeError as exc:
                raise ValueError(f"not JSON ({exc.msg}, line {exc.lineno})") from None
            except RecursionError:
                raise ValueError("nested too deeply to read") from None
            findings += lint_schema(document, source=path)
        for path in args.prompt:
            findings += lint_prompt(_read(path), source=path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        name = getattr(exc, "filename", None) or path
        print(f"thrifty lint: {name}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([f.to_json() for f in findings], indent=2))
    else:
        for finding in findings:
            print(finding.text())
        checked = len(args.schemas) + len(args.prompt)
        print(f"{len(findings)} finding(s) in {checked} file(s)")
    return 1 if findings else 0
