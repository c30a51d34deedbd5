"""Signed PDF CRFs: content and page furniture, the signature checked by pyHanko and by poppler's pdfsig, a changed
byte detected, the command line, permissions, and an unwritable folder leaving nothing half-written."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import CrfError, PermissionDenied, StoreError
from msc_sle_crf.pdf import sign
from msc_sle_crf.pdf.render import Cancelled
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.services.printing import Printing

from .conftest import FAST_KDF

ROOT = Path(__file__).resolve().parents[1]
needs_poppler = pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils not installed")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Path]]:
    path = tmp_path_factory.mktemp("pdf") / "demo.crfdb"
    site = create_demo(path, kdf=FAST_KDF, clock=FakeClock())
    yield site, path
    site.close()


@pytest.fixture(scope="module")
def printing(demo: tuple[Site, Path]) -> Printing:
    return Workspace.sign_in(demo[0], "dr.martin", "training-doctor").printing


def text_of(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "x.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


@needs_poppler
def test_form_pdf_content_and_page_furniture(printing: Printing, tmp_path: Path) -> None:
    pdf = printing.form_pdf(FormRef("99-001", "M3", "selena_sledai"), with_audit=True)
    text = text_of(pdf, tmp_path)
    for expected in ("MSC-SLE — NCT03562065", "Subject 99-001 · Month 3 · SELENA-SLEDAI and physician global "
                     "assessment (v1.0)", "Page 1 of", "by Dr Claire Martin (formation) (dr.martin)",
                     "Low complement (2)", "Yes", "Audit trail of this form", "state: complete"):
        assert expected in text, expected
    assert "Y - Yes" not in text  # issue 12: coded values as their labels (codes only in the annotated CRF)


@needs_poppler
def test_signature_checked_by_pyhanko_and_pdfsig_and_a_changed_byte_breaks_it(printing: Printing,
                                                                              tmp_path: Path) -> None:
    pdf = printing.form_pdf(FormRef("99-003", "LOG", "adverse_events"))
    cert_pem, _ = printing.certificate()
    verdict = sign.verify(pdf, cert_pem)
    assert verdict.intact and verdict.trusted
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature is Valid." in out and "Total document signed" in out
    tampered = bytearray(pdf)
    index = len(pdf) // 4  # inside the first signed byte range (the signature itself sits near the end)
    tampered[index] = (tampered[index] + 1) % 256
    assert not sign.verify(bytes(tampered), cert_pem).intact
    path.write_bytes(bytes(tampered))
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature is Valid." not in out


@needs_poppler
def test_casebook_blank_crf_and_cancellation(printing: Printing, tmp_path: Path) -> None:
    steps: list[tuple[int, int]] = []
    book = printing.casebook_pdf("99-002", progress=lambda done, total: steps.append((done, total)))
    text = text_of(book, tmp_path)
    assert "Subject 99-002 · Screening" in text and "Subject 99-002 · Month 3" in text
    assert steps[-1][0] == steps[-1][1]
    with pytest.raises(Cancelled):
        printing.casebook_pdf("99-002", cancelled=lambda: True)
    blank = text_of(printing.blank_crf_pdf(), tmp_path)
    assert "Annotated CRF" in blank and "AETOXGR" in blank and "hard_max 43" in blank


@contextmanager
def statements(printing: Printing) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the services run on their read connections meanwhile, with its parameters."""
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []
    engine = printing.ctx.store.read_engine

    def note(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_the_site_ca_check_finds_its_record_without_reading_the_whole_trail(printing: Printing) -> None:
    """Issue 13: every signed print checks that the site CA is the one last recorded in the trail; that look-up read
    the trail backwards to its first record (the site's creation): ~0.9 s on a 500-subject trial, three times per
    print. It goes through an index now (the refusals it gives are tested in test_issue14_insider)."""
    with statements(printing) as seen:
        printing.ca_fingerprint()
    trail_reads = [(sql, params) for sql, params in seen if "audit_event" in sql]
    assert trail_reads
    with printing.ctx.read() as session:
        for sql, params in trail_reads:
            plan = [str(row[-1]) for row in session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql,
                                                                                 params)]
            assert not any(step.startswith("SCAN audit_event") for step in plan), (sql, plan)


def test_a_casebook_reads_its_subjects_trail_once_and_prints_each_forms_own_trail(printing: Printing,
                                                                                   monkeypatch) -> None:
    from sqlalchemy import text

    from msc_sle_crf.pdf import render

    printed: list[render.FormPrint] = []
    forms = render.CrfDocument.forms

    def capture(self: render.CrfDocument, prints: list[render.FormPrint], cover: Any = None) -> bytes:
        printed.extend(prints)
        return forms(self, prints, cover)

    monkeypatch.setattr(render.CrfDocument, "forms", capture)
    with statements(printing) as seen:
        printing.casebook_pdf("99-001", with_audit=True)
    trail_reads = [sql for sql, _ in seen if "FROM audit_event WHERE audit_event.subject = ?" in " ".join(sql.split())]
    assert len(trail_reads) == 1, trail_reads
    assert len(printed) == len(printing.entry.statuses("99-001")) > 20
    with printing.ctx.read() as session:
        for fp in printed:
            ref = FormRef(fp.subject, fp.event_id, fp.form.id)
            assert fp.audit == printing._form_print(ref, with_audit=True).audit  # as the form's own PDF has it
            assert len(fp.audit) == session.execute(text(
                "SELECT count(*) FROM audit_event WHERE subject = :s AND visit = :v AND form = :f"),
                {"s": ref.subject, "v": ref.event, "f": ref.form}).scalar_one() > 0


def test_a_casebook_hashes_the_content_of_signed_forms_only(printing: Printing, monkeypatch) -> None:
    """What a signature covers is hashed to show whether it still holds: not for the forms nobody signed."""
    from msc_sle_crf.services import lifecycle
    from msc_sle_crf.status import FormStatus

    statuses = printing.entry.statuses("99-003")
    signed = next(FormRef("99-003", e, f) for (e, f), status in sorted(statuses.items())
                  if status is FormStatus.COMPLETE)
    printing.lifecycle.sign(signed, "dr.martin", "training-doctor", "approval")
    hashed: list[int] = []
    content_hash = lifecycle.content_hash

    def counted(session: Any, instance: Any) -> str:
        hashed.append(instance.id)
        return content_hash(session, instance)

    monkeypatch.setattr(lifecycle, "content_hash", counted)
    book = printing.casebook_pdf("99-003")
    assert len(statuses) > 5 and len(hashed) == 1
    assert [s.valid for s in printing.lifecycle.signatures(signed)] == [True]
    assert book.startswith(b"%PDF")


def test_a_casebook_reads_queries_and_verifications_of_the_forms_that_have_some(demo: tuple[Site, Path],
                                                                                 printing: Printing,
                                                                                 monkeypatch) -> None:
    """The casebook asks once which of the subject's forms have queries, verifications or signatures, and reads
    those of these forms only; what it prints of them is unchanged."""
    from msc_sle_crf.pdf import render

    monitor = Workspace.sign_in(demo[0], "monitor.petit", "training-monitor")
    picked: list[tuple[FormRef, tuple[str, int, str]]] = []
    for event, form in sorted(printing.entry.statuses("99-002")):
        ref = FormRef("99-002", event, form)
        snap = printing.entry.open_form(ref)
        key = next((k for k, cell in sorted(snap.state.cells.items())
                    if cell.value is not None and not snap.form.item(k[2]).calc), None)
        if key is not None:
            picked.append((ref, key))
    (asked, asked_key), (checked, checked_key) = picked[0], picked[1]
    monitor.monitoring.open_query(asked, asked_key, "Please check the source.")
    monitor.monitoring.verify_item(checked, checked_key)
    printed: list[render.FormPrint] = []
    forms = render.CrfDocument.forms

    def capture(self: render.CrfDocument, prints: list[render.FormPrint], cover: Any = None) -> bytes:
        printed.extend(prints)
        return forms(self, prints, cover)

    monkeypatch.setattr(render.CrfDocument, "forms", capture)
    with statements(printing) as seen:
        printing.casebook_pdf("99-002")
    shown = {(fp.event_id, fp.form.id): fp for fp in printed}
    assert len(shown) > 10
    assert shown[(asked.event, asked.form)].queries == {asked_key: 1}
    assert shown[(checked.event, checked.form)].verified == {checked_key: True}
    assert all(not fp.queries for k, fp in shown.items() if k != (asked.event, asked.form))
    assert all(not fp.verified for k, fp in shown.items() if k != (checked.event, checked.form))
    read = [" ".join(sql.split()) for sql, _ in seen]
    assert len([sql for sql in read if sql.startswith("SELECT data_query.id")]) == 1, read
    assert len([sql for sql in read if sql.startswith("SELECT item_verification.id")]) == 1, read


def test_the_first_print_is_prepared_off_the_ui_thread_once_the_main_window_has_painted(
        qtbot, demo: tuple[Site, Path], monkeypatch) -> None:
    """Issue 13: the first print of a session loaded reportlab, its fonts and pyHanko (~1 s on a busy laptop); the
    main window starts that in a background thread once it has painted, so the sign-in is not slower for it."""
    import threading

    from PySide6.QtCore import QEvent, QObject

    from msc_sle_crf import pdf
    from msc_sle_crf.ui.app import App
    from msc_sle_crf.ui.main_window import MainWindow

    painted: list[bool] = []

    class Painted(QObject):
        def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                painted.append(True)
            return False

    recorder = Painted()
    show = MainWindow.show

    def showing(self: MainWindow) -> None:
        self.installEventFilter(recorder)
        show(self)

    warmed: list[tuple[bool, bool]] = []
    done = threading.Event()

    def warm() -> None:
        warmed.append((threading.current_thread() is threading.main_thread(), bool(painted)))
        done.set()

    asked: list[bool] = []
    warm_in_background = pdf.warm_in_background

    def asking() -> None:
        asked.append(True)
        warm_in_background()

    monkeypatch.setattr(MainWindow, "show", showing)
    monkeypatch.setattr(pdf, "warm", warm)
    monkeypatch.setattr(pdf, "warm_in_background", asking)
    monkeypatch.setattr(pdf, "_warming", [])  # as in a new process
    doctor = Workspace.sign_in(demo[0], "dr.martin", "training-doctor")
    shell = App(demo[0], study=doctor.study)
    qtbot.addWidget(shell.login)
    shell._signed_in(doctor)
    assert shell.main is not None
    qtbot.addWidget(shell.main)
    qtbot.waitUntil(done.is_set, timeout=20_000)
    assert warmed == [(False, True)]  # off the UI thread, after the main window's first paint
    shell._signed_in(doctor)  # a second sign-in in the same process: loaded already
    qtbot.addWidget(shell.main)
    qtbot.waitUntil(lambda: len(asked) == 2, timeout=20_000)
    assert len(warmed) == 1 and len(pdf._warming) == 1


def test_the_warm_up_draws_and_signs_a_throwaway_page(monkeypatch) -> None:
    """What the background warm-up does, as shipped (conftest stubs it for the other tests): it runs the printing
    code once, a page drawn and signed in memory (its failures would be silent, the first print paying again)."""
    import importlib

    from msc_sle_crf import pdf

    signed: list[bytes] = []
    sign_with = sign.sign_with

    def noted(*args: Any, **kwargs: Any) -> bytes:
        signed.append(sign_with(*args, **kwargs))
        return signed[-1]

    monkeypatch.setattr(sign, "sign_with", noted)
    importlib.reload(pdf).warm()  # the module as shipped: its own ``warm``
    assert len(signed) == 1 and signed[0].startswith(b"%PDF") and b"/ByteRange" in signed[0]


def test_roles_and_unwritable_folder(demo: tuple[Site, Path], printing: Printing, tmp_path: Path) -> None:
    admin = Workspace.sign_in(demo[0], "admin", "training-manager").printing
    with pytest.raises(PermissionDenied):
        admin.form_pdf(FormRef("99-001", "M3", "selena_sledai"))
    nurse = Workspace.sign_in(demo[0], "nurse.durand", "training-nurse").printing
    assert nurse.form_pdf(FormRef("99-001", "D0", "vital_signs")).startswith(b"%PDF")
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("x")
    for target in (not_a_folder / "crf.pdf", tmp_path / "missing" / "crf.pdf"):
        with pytest.raises(CrfError, match="Nothing was written"):
            printing.write(b"%PDF-1.7 test", target, "test")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # no temporary file left behind


def test_cli_pdf(demo: tuple[Site, Path], tmp_path: Path) -> None:
    demo[0].close()
    out = tmp_path / "book.pdf"
    proc = subprocess.run([sys.executable, "-m", "msc_sle_crf", "pdf", "--db", str(demo[1]), "--user", "dr.martin",
                           "--password-stdin", "--subject", "99-003", "--visit", "D0", "--out", str(out)],
                          input="training-doctor\n", capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Signed PDF written" in proc.stdout and out.read_bytes().startswith(b"%PDF")
    proc = subprocess.run([sys.executable, "-m", "msc_sle_crf", "pdf", "--db", str(demo[1]), "--user", "dr.martin",
                           "--password-stdin", "--out", str(out)], input="training-doctor\n", capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "--subject (or --blank)" in proc.stderr


def test_printing_from_the_screens_in_the_background(qtbot, tmp_path: Path) -> None:
    from msc_sle_crf.ui.casebook import CasebookDialog
    from msc_sle_crf.ui.form import FormView

    site = create_demo(tmp_path / "ui.crfdb", kdf=FAST_KDF, clock=FakeClock())
    doctor = Workspace.sign_in(site, "dr.martin", "training-doctor")
    view = FormView(doctor, FormRef("99-001", "M3", "bilag"))
    qtbot.addWidget(view)
    assert view.print_button.isVisibleTo(view)
    job = view.print_pdf(tmp_path / "bilag.pdf")
    with qtbot.waitSignal(job.finished, timeout=20000) as blocker:
        pass
    assert blocker.args == [tmp_path / "bilag.pdf"] and (tmp_path / "bilag.pdf").read_bytes().startswith(b"%PDF")
    dialog = CasebookDialog(doctor, "99-002")
    qtbot.addWidget(dialog)
    job = dialog.print_casebook(tmp_path / "book.pdf")
    job.cancel.set()  # the user presses Cancel: nothing is written
    with qtbot.waitSignal(job.finished, timeout=20000) as blocker:
        pass
    assert blocker.args == [None] and not (tmp_path / "book.pdf").exists()
    site.close()


def test_disk_full_leaves_no_half_written_pdf(printing: Printing, tmp_path: Path, monkeypatch) -> None:
    import errno
    import os

    target = tmp_path / "crf.pdf"
    target.write_bytes(b"%PDF previous print")

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StoreError) as err:
        printing.write(b"%PDF-1.7 new", target, "test")
    assert "No space left on device" in err.value.message() and "Nothing was written there" in err.value.message()
    assert target.read_bytes() == b"%PDF previous print"  # the previous file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crf.pdf"]  # and no temporary file is left


def test_a_pkcs12_certificate_imported_by_the_admin_signs_the_pdfs(tmp_path: Path) -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    from msc_sle_crf.errors import ValidationError
    from msc_sle_crf.services.printing import import_pkcs12

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Hopital Saint-Louis CRF signing")])
    now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=99))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    p12 = pkcs12.serialize_key_and_certificates(b"site", key, cert, None,
                                                serialization.BestAvailableEncryption(b"p12-secret"))
    site = create_demo(tmp_path / "p12.crfdb", kdf=FAST_KDF, clock=FakeClock())
    with pytest.raises(PermissionDenied):
        import_pkcs12(Workspace.sign_in(site, "dr.martin", "training-doctor").ctx, p12, b"p12-secret")
    admin = Workspace.sign_in(site, "admin", "training-manager")
    with pytest.raises(ValidationError, match="wrong password"):
        import_pkcs12(admin.ctx, p12, b"nope")
    assert import_pkcs12(admin.ctx, p12, b"p12-secret") == "CN=Hopital Saint-Louis CRF signing"
    printing = Workspace.sign_in(site, "dr.martin", "training-doctor").printing
    pdf = printing.form_pdf(FormRef("99-001", "M3", "bilag"))
    imported_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    assert sign.verify(pdf, imported_pem).trusted
    site.close()
