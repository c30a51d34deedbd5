"""Item 4: every free text has a length limit named in the message (en and fr), names refuse control and format
characters, and any accepted text prints (PDF table cells split across pages)."""

from __future__ import annotations

import pytest

from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.i18n import Lang
from msc_sle_crf.services import Site, Workspace, limits
from msc_sle_crf.services.entry import FormRef

from .conftest import ADMIN_PW, FAST_KDF, make_user

M3 = FormRef("01-001", "M3", "labs")
CRP = ("lb", 0, "CRP")


@pytest.fixture
def doctor(site: Site, admin: Workspace) -> Workspace:
    ws = Workspace.sign_in(site, "dr.l", make_user(admin, "dr.l", "investigator"))
    ws.subjects.register("ABC", 1980, "F")
    return ws


def _long_text(n: int) -> str:
    words = ["créatinine", "contrôlée", "au", "laboratoire", "central,", "résultat", "non", "transmis", "à", "temps"]
    out: list[str] = []
    while len(" ".join(out)) < n:
        out.append(words[len(out) % len(words)])
    return " ".join(out)[:n].strip() + "."


@pytest.mark.parametrize("text", [_long_text(3000), _long_text(limits.MAX_MISSING_REASON - 1),
                                  "x" * (limits.MAX_MISSING_REASON - 1), "ligne\n" * 600])
def test_a_long_not_done_reason_prints_in_form_visit_and_casebook(doctor: Workspace, text: str) -> None:
    doctor.entry.set_missing(M3, CRP, "ND", text)
    assert doctor.entry.open_form(M3).state.cell(CRP).missing_reason == text.strip()
    printing = doctor.printing
    for pdf in (printing.form_pdf(M3, with_audit=True), printing.casebook_pdf("01-001", event="M3"),
                printing.casebook_pdf("01-001", with_audit=True)):
        assert pdf.startswith(b"%PDF")


def test_every_free_text_has_a_named_limit(site: Site, admin: Workspace, doctor: Workspace) -> None:
    monitor = Workspace.sign_in(site, "mon.l", make_user(admin, "mon.l", "monitor"))
    nurse = Workspace.sign_in(site, "nurse.l", make_user(admin, "nurse.l", "nurse"))
    doctor.entry.save_item(M3, ("lb", 0, "LBDAT"), "20/11/2026")
    big = "a" * (limits.MAX_REASON + 1)
    attempts = {
        "not done reason": lambda: doctor.entry.set_missing(M3, CRP, "ND", big),
        "reason for change": lambda: doctor.entry.save_item(M3, CRP, "3", reason=big),
        "row removal reason": lambda: doctor.entry.remove_row(M3, "lb", 0, big),
        "query text": lambda: monitor.monitoring.open_query(M3, CRP, "q" * (limits.MAX_QUERY_TEXT + 1)),
        "bedside comment": lambda: nurse.bedside.comment("01-001", "c" * (limits.MAX_COMMENT + 1)),
        "vital signs not done": lambda: nurse.bedside.not_done("01-001", "T15", big),
        "typed text": lambda: doctor.entry.save_typing(M3, CRP, "9" * (limits.MAX_TYPED + 1)),
        "disable reason": lambda: admin.accounts.disable_user("nurse.l", big),
        "unlock reason": lambda: doctor.lifecycle.unlock_subject("01-001", big),
        "full name": lambda: admin.accounts.add_user("new.l", "N" * 121, "nurse"),
        "site name": lambda: admin.settings.set("site_name", "Hôpital " * 9),
    }
    for name, attempt in attempts.items():
        with pytest.raises(ValidationError) as err:
            attempt()
        assert err.value.msg in (Msg.TEXT_TOO_LONG, Msg.TEXT_TOO_MANY_BYTES), name
        en, fr = err.value.message(Lang.EN), err.value.message(Lang.FR)
        assert "at most" in en and "au plus" in fr, name
        limit = str(err.value.params["limit"])
        assert limit in en and limit in fr, name
    # nothing of it was stored
    assert doctor.entry.open_form(M3).state.cell(CRP).missing is None


@pytest.mark.parametrize("bad", ["\u202eevil", "Dr\u200bMartin", "Dr\nMartin", "Dr\x1b[31mMartin", "\ufeffAda"])
def test_names_refuse_control_format_and_invisible_characters(admin: Workspace, tmp_path, bad: str) -> None:
    with pytest.raises(ValidationError) as err:
        admin.accounts.add_user("new.n", bad, "nurse")
    assert err.value.msg is Msg.TEXT_FORBIDDEN_CHARACTER and "U+" in err.value.message()
    with pytest.raises(ValidationError) as err:
        admin.settings.set("site_name", f"Site {bad}")
    assert err.value.msg is Msg.TEXT_FORBIDDEN_CHARACTER
    with pytest.raises(ValidationError):
        Site.initialize(tmp_path / "new" / "x.crfdb", admin_username="admin", admin_full_name=bad,
                        admin_password=ADMIN_PW, kdf=FAST_KDF)
    assert not (tmp_path / "new").exists()  # refused before anything was created


def test_reasons_allow_line_breaks_but_not_escape_codes_or_direction_overrides(doctor: Workspace) -> None:
    doctor.entry.set_missing(M3, CRP, "ND", "tube hémolysé\nredemandé")
    for bad in ("tube\x1b[2J", "tube \u202e", "tube\x00"):
        with pytest.raises(ValidationError) as err:
            doctor.entry.set_missing(M3, CRP, "ND", bad)
        assert err.value.msg is Msg.TEXT_FORBIDDEN_CHARACTER


def test_accented_names_within_the_byte_limit_are_accepted(admin: Workspace) -> None:
    name = "Hôpital Saint-Louis – AP-HP, Médecine interne"  # 46 characters, 51 bytes: the example
    admin.settings.set("site_name", name)
    assert admin.settings.get("site_name") == name
    admin.accounts.add_user("new.a", "Émilie Dûbois-Ørsted", "nurse")
