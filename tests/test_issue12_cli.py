"""Issue 12, item 8: `--lang` is accepted after the command too; `demo` says what it is doing."""

from __future__ import annotations

from pathlib import Path

import pytest

from msc_sle_crf.cli import build_parser, main


@pytest.mark.parametrize("argv", [["run", "--lang", "fr"], ["--lang", "fr", "run"], ["run", "--db", "x", "--lang=fr"],
                                  ["user", "list", "--db", "x", "--user", "a", "--lang", "fr"]])
def test_lang_before_or_after_the_command(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).lang == "fr"


def test_lang_after_the_command_does_not_undo_the_one_before() -> None:
    assert build_parser().parse_args(["--lang", "fr", "run", "--db", "x"]).lang == "fr"
    assert build_parser().parse_args(["run"]).lang is None


def test_demo_in_french_with_lang_after_the_command_shows_its_progress(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--db", str(tmp_path / "t.crfdb"), "--lang", "fr"]) == 0
    out = capsys.readouterr()
    assert "Création de la base de FORMATION : patient 1 sur 8" in out.err or \
        "Création de la base de FORMATION: patient 1 sur 8" in out.err, out.err
    assert "terminé en" in out.err or "fait en" in out.err, out.err
