"""h72 (a statistician, untested remark): `export-verify DIR --fingerprint AB:CD` said the manifest was "forged or
from another site"; a fingerprint that cannot be one (not 64 hexadecimal digits) is now named as such, one line,
in the user's language, before anything is read (pdf-verify too)."""

from __future__ import annotations

from pathlib import Path

import pytest

from msc_sle_crf.cli import main
from msc_sle_crf.i18n import Lang, set_lang


@pytest.mark.parametrize("command", ["export-verify", "pdf-verify"])
def test_a_malformed_fingerprint_is_named_as_such(command: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "export"
    target.mkdir()
    if command == "pdf-verify":
        target = tmp_path / "casebook.pdf"
        target.write_bytes(b"%PDF-1.7\n")
    assert main([command, str(target), "--fingerprint", "AB:CD"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "--fingerprint: a site CA fingerprint is 64 hexadecimal digits" in err and "'AB:CD' has 4" in err
    try:
        set_lang(Lang.FR)
        assert main([command, str(target), "--fingerprint", "AB:CD"]) == 2
        assert "l'empreinte de l'AC du site compte 64 chiffres hexadécimaux" in capsys.readouterr().err
    finally:
        set_lang(Lang.EN)
