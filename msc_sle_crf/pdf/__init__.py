"""PDF case report forms (reportlab) and their digital signature (pyHanko, PAdES baseline B-B) with the site's
certificate. No Qt: the CLI and the background printing job use the same code."""

from __future__ import annotations

import contextlib
import threading

_warming: list[threading.Thread] = []  # the thread of ``warm_in_background``, once started


def warm_in_background() -> None:
    """``warm`` in a daemon thread, once per process (the main window calls it once it has painted). A failure
    there changes nothing: the first print loads what it needs itself and says what went wrong."""

    def run() -> None:
        with contextlib.suppress(Exception):
            warm()

    if not _warming:
        _warming.append(threading.Thread(target=run, name="pdf-warm", daemon=True))
        _warming[0].start()


def warm() -> None:
    """Load and run once what the first print of a session would otherwise wait for: reportlab, its fonts and the
    table code, pyHanko and the signing machinery (about a second on a busy laptop), with a throwaway page signed by
    a throwaway key (nothing is written). The main window runs it in a background thread once it has painted
    (``ui.app``, ``warm_in_background``); a print started meanwhile waits for the imports, as before."""
    import datetime as dt
    import io

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from reportlab.platypus import SimpleDocTemplate

    from msc_sle_crf.pdf import render, sign
    from msc_sle_crf.pdf.cells import Cell, CellStyle, CellTable

    regular, _bold = render._fonts()
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer).build([CellTable([[Cell("warm", CellStyle(regular, 8.5, 10.5))]])])
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "warm")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    sign.sign_with(buffer.getvalue(), key, cert_pem, [], reason="warm", location="")
