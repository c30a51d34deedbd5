"""Follow-ups of h59's two-laptop run (3 December 2026): the code dialog after disabling, on WS-02, an account WS-01
had already disabled no longer says she "can still sign in on the other workstations" and asks to disable her
"there" (she was, that is why WS-02 did it); and the menu entry's file argument in its other forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from msc_sle_crf import cli
from msc_sle_crf.i18n import Lang, set_lang


@pytest.mark.parametrize("lang", [Lang.EN, Lang.FR])
def test_the_code_after_following_a_disable_made_elsewhere_says_so(qtbot: object, lang: Lang) -> None:
    from msc_sle_crf.ui.admin_actions import PacketCodeDialog

    set_lang(lang)
    try:
        dialog = PacketCodeDialog(None, "ABCDE-FGHJK-MNPQR-STVWX-YZ012", "ide.martin", "WS-01")
        qtbot.addWidget(dialog)  # type: ignore[attr-defined]
        note = dialog.findChild(type(dialog.code), "packet_code_note").text()
        if lang is Lang.EN:
            assert "already disabled on WS-01" in note and "can still sign in" not in note, note
        else:
            assert "déjà désactivé(e) sur le poste WS-01" in note and "peut encore se connecter" not in note, note
        plain = PacketCodeDialog(None, "ABCDE-FGHJK-MNPQR-STVWX-YZ012", "ide.martin")
        qtbot.addWidget(plain)  # type: ignore[attr-defined]
        text = plain.findChild(type(plain.code), "packet_code_note").text()
        assert ("can still sign in" if lang is Lang.EN else "peut encore se connecter") in text
    finally:
        set_lang(Lang.EN)


def test_the_entry_file_with_a_language_and_other_arguments(tmp_path: Path) -> None:
    db = tmp_path / "Site 01.CRFDB"
    assert cli.opened_file([str(db)]) == ["run", "--db", str(db)]
    assert cli.opened_file(["--lang", "fr", str(db)]) == ["--lang", "fr", "run", "--db", str(db)]
    # a command stays a command, and a file that is not a database is left to the parser's one-line refusal
    assert cli.opened_file(["verify", "--db", str(db)]) == ["verify", "--db", str(db)]
    assert cli.opened_file(["run", "--db", str(db)]) == ["run", "--db", str(db)]
    assert cli.opened_file([str(tmp_path / "notes.txt")]) == [str(tmp_path / "notes.txt")]


def test_an_account_created_on_ws02_is_named_by_the_import_on_ws01(tmp_path: Path) -> None:
    """h59 finding 6: ide.durand, created on WS-02, travelled to WS-01 in a packet but appeared nowhere there and
    the import line said nothing: the administrator had to guess that "enrol" means adding her with the same name."""
    from msc_sle_crf.services import Site, Workspace
    from msc_sle_crf.sync.service import Packets
    from tests.conftest import ADMIN_PW
    from tests.helpers.packets import make_pair

    pair = make_pair(tmp_path)
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        Workspace.sign_in(site, "admin", ADMIN_PW).accounts.add_user("ide.durand", "Julie Durand", "nurse")
    pair.clock.advance(60)
    b1 = pair.export("B")
    assert b1 is not None
    site, doctor = pair.open("A")
    with site:
        line = Packets(doctor.ctx, doctor.study).import_file(b1).line()
    assert "ide.durand was created on WS-02" in line.en and "same user name" in line.en, line.en
    assert "ide.durand a été créé sur le poste WS-02" in line.fr, line.fr


def test_a_background_job_whose_signals_died_at_quit_ends_quietly(qtbot: object) -> None:
    """h59 saw once, at a quit during sign-in, "RuntimeError: Signal source has been deleted" from the pool's thread
    (ui/common.py): the job's result had nobody left to reach. It ends quietly now."""
    import shiboken6

    from msc_sle_crf.ui import common

    signals = common._Signals()
    common._next_key[0] += 1
    key = common._next_key[0]
    common._live[key] = (lambda: 42, signals)
    shiboken6.delete(signals)  # what the program's end does to it
    try:
        common._Job(key).run()  # on this thread: raised before
    finally:
        common._live.pop(key, None)
