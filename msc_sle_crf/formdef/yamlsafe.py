"""Limits on the YAML files the program reads (form definitions, licensed wording): a size cap and no anchors or
aliases, so a "billion laughs" file gets one error line at once instead of gigabytes of memory.

Anchors and aliases are refused outright (the form files never need them: each item is written out); the check
reads the parser's events, which costs time in proportion to the file's size, never to what aliases would
expand to.
"""

from __future__ import annotations

from pathlib import Path

import yaml

MAX_YAML_BYTES = 1024 * 1024  # the largest form file is about 11 KB


def read_checked(path: Path) -> tuple[str | None, int, str]:
    """(text, 0, "") when the file may be parsed, or (None, line, problem) when it is refused."""
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            return None, 1, f"the file is {size:,} bytes; at most {MAX_YAML_BYTES:,} are accepted"
        with open(path, "rb") as fh:
            data = fh.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        return None, 1, f"cannot read the file: {exc.strerror or exc}"
    if len(data) > MAX_YAML_BYTES:
        return None, 1, f"the file is larger than {MAX_YAML_BYTES:,} bytes"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, 1, f"the file is not UTF-8 text (byte {exc.start})"
    problem = alias_problem(text)
    if problem is not None:
        return None, problem[0], problem[1]
    return text, 0, ""


def alias_problem(text: str) -> tuple[int, str] | None:
    """The first anchor (&name) or alias (*name), as (line, message); None when there is none. A syntax error is
    left for the real parse to report with its own line."""
    try:
        for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml if built
            anchor = getattr(event, "anchor", None)
            if isinstance(event, yaml.AliasEvent) or anchor is not None:
                line = event.start_mark.line + 1 if event.start_mark else 1
                return line, (f"YAML anchors and aliases (&{anchor} / *{anchor}) are not accepted in these files; "
                              "write each value out")
    except yaml.YAMLError:
        return None
    return None
