"""Command line: ``msc-sle-crf [run] [--db PATH]`` starts the app; the other commands administer a site.

Passwords come from a prompt or from ``--password-stdin`` (one per line), never from the command line.
Errors are one clear line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from msc_sle_crf import PROTOCOL_NUMBER, STUDY_NAME, __version__
from msc_sle_crf.errors import CrfError, Msg, ValidationError
from msc_sle_crf.i18n import L, Lang, current_lang, set_lang

PROG = "msc-sle-crf"


class Secrets:
    """Where passwords come from: the terminal (hidden) or standard input, one per line."""

    def __init__(self, from_stdin: bool, stdin: TextIO | None = None) -> None:
        self.from_stdin = from_stdin
        self._stdin = stdin or sys.stdin

    def ask(self, prompt: L) -> str:
        if self.from_stdin:
            line = self._stdin.readline()
            if not line:
                raise ValidationError(Msg.INPUT_NOT_INTERACTIVE)
            return line.rstrip("\r\n")
        if not self._stdin.isatty():
            raise ValidationError(Msg.INPUT_NOT_INTERACTIVE)
        return getpass.getpass(prompt.get() + " ")

    def ask_new(self, prompt: L) -> str:
        first = self.ask(prompt)
        if not self.from_stdin:
            again = self.ask(L("Repeat it:", "Saisissez-le à nouveau :"))
            if again != first:
                raise ValidationError(Msg.PASSWORD_MISMATCH)
        return first


def _say(text: L | str, out: TextIO | None = None) -> None:
    print(text.get() if isinstance(text, L) else text, file=out or sys.stdout)


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from msc_sle_crf.services import Site, Workspace

    secrets_ = Secrets(args.password_stdin)
    site = Site.open(Path(args.db))
    shown = len(site.notices)
    for notice in site.notices:  # an interrupted step completed or undone when the files were opened ...
        _say(notice.message(), sys.stderr)
    try:
        password = secrets_.ask(L(f"Password for {args.user}:", f"Mot de passe de {args.user} :"))
        services = Workspace.sign_in(site, args.user, password)
        for notice in site.notices[shown:]:  # ... or at the sign-in (steps that needed the database key)
            _say(notice.message(), sys.stderr)
        tail = site.opening_check  # the newest audit records did not hold when the database was opened
        if tail is not None and not tail.ok:
            _say(Msg.AUDIT_BROKEN.render(record=tail.first_bad_id, detail=tail.problem), sys.stderr)
    except BaseException:
        # the first error is the one to show (a full disk, a wrong password); closing releases the lock anyway
        with contextlib.suppress(Exception):
            site.close()
        raise
    return site, services, secrets_


def cmd_init(args: argparse.Namespace) -> int:
    """All or nothing: the settings are checked first, the site is built aside with its signing certificate, and
    it exists only once its recovery code has been shown (an interruption before that undoes it)."""
    from msc_sle_crf.errors import StoreError
    from msc_sle_crf.services import Site, Workspace

    settings = {k: v for k, v in (("site_name", args.site_name), ("site_number", args.site_number)) if v is not None}
    kdf = _kdf_from_args(args)
    full_name = args.full_name if args.full_name is not None else args.admin
    Site.validate_new_site(args.admin, full_name, None, settings)  # names and settings, before any prompt
    from msc_sle_crf.store.db import check_db_path

    check_db_path(Path(args.db), creating=True, make_parent=False)
    for existing in (Path(args.db), Path(f"{args.db}.keys")):
        if os.path.lexists(existing):  # refused before any question is asked or anything is said
            raise StoreError(Msg.DB_EXISTS, path=str(existing))
    secrets_ = Secrets(args.password_stdin)
    password = secrets_.ask_new(L(f"New password for {args.admin} (10 characters or more):",
                                  f"Nouveau mot de passe pour {args.admin} (10 caractères ou plus) :"))
    from msc_sle_crf.security.keyslots import normalize_username
    from msc_sle_crf.security.policy import check_password_policy

    check_password_policy(password, normalize_username(args.admin))
    _say(L("Creating the site (tuning the key derivation for this computer)...",
           "Création du site (réglage de la dérivation de clé pour cet ordinateur)..."), sys.stderr)

    def show(code: str) -> None:
        try:
            _say(L(f"Site created: {args.db}", f"Site créé : {args.db}"))
            _say(L("RECOVERY CODE (shown once; print it and keep it in the site safe):",
                   "CODE DE RÉCUPÉRATION (affiché une seule fois ; imprimez-le et gardez-le dans le coffre du "
                   "site) :"))
            _say(f"    {code}")
            sys.stdout.flush()
        except OSError as exc:  # the code could not be shown: the site is undone (init can be run again)
            raise StoreError(Msg.OUTPUT_NOT_WRITABLE, path=L("the standard output", "la sortie standard"),
                             detail=exc.strerror or str(exc)) from None

    site, admin, _code = Site.initialize(Path(args.db), admin_username=args.admin, admin_full_name=full_name,
                                         admin_password=password, site_settings=settings, kdf=kdf,
                                         show_recovery_code=show)
    with site:
        fingerprint = Workspace(site, admin).printing.ca_fingerprint()
    _say(L("Site certificate authority (pin it: every signed PDF of this site chains to it), SHA-256:",
           "Autorité de certification du site (à épingler : chaque PDF signé du site s'y rattache), SHA-256 :"))
    _say(f"    {fingerprint}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from msc_sle_crf.services.demo import create_demo, demo_accounts_text

    progress = _ProgressLine(L("Creating the TRAINING database", "Création de la base de FORMATION"))
    site = create_demo(Path(args.db), kdf=_kdf_from_args(args), progress=progress)
    site.close()
    progress.done()
    _say(demo_accounts_text(args.db))
    return 0


class _ProgressLine:
    """One line on standard error that says what a long command is doing (rewritten in place on a terminal, one
    line per step otherwise), then how long it took."""

    def __init__(self, what: L) -> None:
        import time

        self.what = what
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()

    def __call__(self, step: L) -> None:
        text = f"{self.what.get()}: {step.get()}…"
        if self.tty:
            print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)
        else:
            print(text, file=sys.stderr, flush=True)

    def done(self) -> None:
        import time

        seconds = f"{time.monotonic() - self.started:.1f}"
        text = L(f"{self.what.en}: done in {seconds} s", f"{self.what.fr} : terminé en {seconds.replace('.', ',')} s")
        print(("\r\033[K" if self.tty else "") + text.get(), file=sys.stderr, flush=True)


def _kdf_from_args(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Argon2id parameters given by hand (advanced); by default they are tuned to this computer."""
    from msc_sle_crf.security.keyslots import MAX_KDF, MIN_KDF, KdfParams

    if args.kdf_time_cost is None and args.kdf_memory_mib is None:
        return None
    time_cost = MIN_KDF.time_cost if args.kdf_time_cost is None else args.kdf_time_cost
    memory_mib = 64 if args.kdf_memory_mib is None else args.kdf_memory_mib
    # Never below the code's own floor (RFC 9106 / OWASP), never so high that every sign-in takes minutes.
    for name, value, low, high in (("--kdf-time-cost", time_cost, MIN_KDF.time_cost, MAX_KDF.time_cost),
                                   ("--kdf-memory-mib", memory_mib, MIN_KDF.memory_kib // 1024,
                                    MAX_KDF.memory_kib // 1024)):
        if not low <= value <= high:
            raise ValidationError(Msg.FIELD_RANGE, field=name, low=low, high=high)
    return KdfParams(time_cost=time_cost, memory_kib=memory_mib * 1024, parallelism=2)


def cmd_user_add(args: argparse.Namespace) -> int:
    site, services, _ = _open(args)
    with site:
        password = services.accounts.add_user(args.name, args.full_name, args.role).password
    _say(L(f"User '{args.name}' created. One-time password (to change at first sign-in): {password}",
           f"Utilisateur « {args.name} » créé. Mot de passe à usage unique (à changer à la première "
           f"connexion) : {password}"))
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    site, services, _ = _open(args)
    with site:
        users = services.accounts.list_users()
    lang = current_lang()
    for u in users:
        state = ("active" if u.active else "disabled") if lang is Lang.EN else ("actif" if u.active else "désactivé")
        extra = []
        if u.disabled_on and u.active:
            extra.append(f"disabled on {u.disabled_on}: cannot sign in here" if lang is Lang.EN
                         else f"désactivé sur le poste {u.disabled_on} : ne peut pas se connecter ici")
        if u.locked:
            extra.append("locked" if lang is Lang.EN else "verrouillé")
        if u.must_change_password and u.active:
            extra.append("must change password" if lang is Lang.EN else "doit changer son mot de passe")
        print(f"{u.username:<20} {u.role.value:<13} {state:<10} {u.full_name}"
              + (f"  ({', '.join(extra)})" if extra else ""))
    return 0


def _progress(done: int, total: int) -> None:
    percent = 100 * done // max(total, 1)
    print(f"\r{L('Re-keying the database', 'Rechiffrement de la base').get()}: {percent:3d} %", end="",
          file=sys.stderr, flush=True)


def _say_rotation(rotation: Any) -> None:
    print(file=sys.stderr)
    _say(L(f"Database re-keyed in {rotation.seconds:.1f} s ({rotation.size_bytes / 1e6:.0f} MB); new key sealed to "
           f"{', '.join(rotation.accounts)}.",
           f"Base rechiffrée en {rotation.seconds:.1f} s ({rotation.size_bytes / 1e6:.0f} Mo) ; nouvelle clé scellée "
           f"pour {', '.join(rotation.accounts)}."))
    for path in rotation.stale_rewrapped:
        _say(L(f"Older key file re-wrapped for the current accounts only: {path}",
               f"Ancien fichier de clés réemballé pour les seuls comptes actuels : {path}"))
    if rotation.recovery_code:
        _say(L("NEW RECOVERY CODE (the older one no longer works; shown once: print it and keep it in the site safe):",
               "NOUVEAU CODE DE RÉCUPÉRATION (l'ancien ne fonctionne plus ; affiché une seule fois : imprimez-le et "
               "gardez-le dans le coffre du site) :"))
        _say(f"    {rotation.recovery_code}")
    for path in rotation.stale_removed:
        _say(L(f"Older key file removed (its copy has another key): {path}",
               f"Ancien fichier de clés supprimé (sa copie a une autre clé) : {path}"))


def cmd_user_disable(args: argparse.Namespace) -> int:
    site, services, _ = _open(args)
    with site:
        services.accounts.disable_user(args.name, args.reason, progress=_progress)
        rotation = services.accounts.last_rotation
        packet_code = services.accounts.take_packet_code()
    _say(L(f"User '{args.name}' disabled; its key slot was removed.",
           f"Utilisateur « {args.name} » désactivé ; sa clé a été supprimée."))
    if rotation is not None:
        _say_rotation(rotation)
    else:
        _say(L("The database key could NOT be rotated (see the audit trail): run 'msc-sle-crf rotate-keys' once "
               "every account has signed in.",
               "La clé de la base n'a PAS pu être changée (voir la piste d'audit) : lancez « msc-sle-crf "
               "rotate-keys » quand chaque compte se sera connecté."), sys.stderr)
    from msc_sle_crf.cli.packets import say_packet_code

    say_packet_code(packet_code)
    return 0


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    """A new database key sealed to every account: older key files, old passwords and copied keys open nothing."""
    site, services, _ = _open(args)
    with site:
        rotation = services.accounts.rotate_keys(progress=_progress)
        packet_code = services.accounts.take_packet_code()
    _say_rotation(rotation)
    from msc_sle_crf.cli.packets import say_packet_code

    say_packet_code(packet_code)
    return 0


def cmd_user_certify(args: argparse.Namespace) -> int:
    """An administrator issues a user's personal PDF certificate (the site CA is made first on an older site)."""
    site, services, _ = _open(args)
    with site:
        issued = services.accounts.issue_certificate(args.name)
    if not issued:
        _say(L(f"No certificate issued: '{args.name}' has no personal PDF key yet (they sign in once first).",
               f"Aucun certificat délivré : « {args.name} » n'a pas encore de clé PDF personnelle (connexion "
               f"d'abord)."), sys.stderr)
        return 1
    _say(L(f"Personal certificate issued to '{args.name}'.", f"Certificat personnel délivré à « {args.name} »."))
    return 0


def cmd_receipt(args: argparse.Namespace) -> int:
    """A receipt of the trail head, signed by the user, for the monitor to keep."""
    from msc_sle_crf.services.receipts import write_receipt

    site, services, _ = _open(args)
    with site:
        head = write_receipt(services.ctx, Path(args.out))
    _say(L(f"Receipt written: {args.out} (trail #{head.record_id} {head.record_hash}). Keep it outside the site: "
           f"'verify --receipt {args.out}' detects a trail rolled back or rewritten before it.",
           f"Reçu écrit : {args.out} (piste #{head.record_id} {head.record_hash}). Gardez-le hors du site : "
           f"« verify --receipt {args.out} » détecte une piste ramenée en arrière ou réécrite avant lui."))
    return 0


def cmd_pdf_verify(args: argparse.Namespace) -> int:
    """Check a signed PDF against the site CA's pinned fingerprint (given, or read from the site) and name the
    signer."""
    from msc_sle_crf.errors import StoreError
    from msc_sle_crf.fileutil import check_input_file
    from msc_sle_crf.pdf import sign
    from msc_sle_crf.security.ca import given_fingerprint

    path = check_input_file(args.file, max_bytes=1 << 30)
    if args.fingerprint:
        fingerprint = given_fingerprint(args.fingerprint)
    elif args.db and args.user:
        site, services, _ = _open(args)
        with site:
            fingerprint = services.printing.ca_fingerprint()
    else:
        raise ValidationError(Msg.FIELD_REQUIRED, field=L("--fingerprint (or --db and --user)",
                                                          "--fingerprint (ou --db et --user)"))
    verdict = sign.verify_pinned(path.read_bytes(), fingerprint)
    signer = verdict.signer or "?"
    if verdict.intact and verdict.trusted:
        _say(L(f"{path}: signature VALID, unchanged since signing, issued by the site CA {fingerprint}.",
               f"{path} : signature VALIDE, inchangé depuis la signature, délivrée par l'AC du site {fingerprint}."))
        _say(L(f"Signed by: {signer}", f"Signé par : {signer}"))
        if verdict.reason:
            _say(L(f"Reason: {verdict.reason}", f"Motif : {verdict.reason}"))
        return 0
    reason = (L("the file was changed after signing, or is not signed", "le fichier a été modifié après la "
                "signature, ou n'est pas signé") if not verdict.intact else
              L(f"its signer ({signer}) does not chain to the pinned site CA {fingerprint}",
                f"son signataire ({signer}) ne se rattache pas à l'AC du site épinglée {fingerprint}"))
    raise StoreError(Msg.PDF_UNTRUSTED, path=str(path), reason=reason)


def cmd_cert_show(args: argparse.Namespace) -> int:
    site, services, _ = _open(args)
    with site:
        fingerprint = services.printing.ca_fingerprint()
    _say(L(f"Site certificate authority, SHA-256: {fingerprint}", f"Autorité de certification du site, SHA-256 : "
           f"{fingerprint}"))
    return 0


def cmd_user_reset(args: argparse.Namespace) -> int:
    site, services, _ = _open(args)
    with site:
        password = services.accounts.reset_password(args.name).password
    _say(L(f"New one-time password for '{args.name}': {password}",
           f"Nouveau mot de passe à usage unique pour « {args.name} » : {password}"))
    return 0


def cmd_user_enable(args: argparse.Namespace) -> int:
    site, services, _ = _open(args)
    with site:
        password = services.accounts.enable_user(args.name, args.reason).password
    _say(L(f"User '{args.name}' enabled again; one-time password: {password}",
           f"Utilisateur « {args.name} » réactivé ; mot de passe à usage unique : {password}"))
    return 0


def cmd_user_passwd(args: argparse.Namespace) -> int:
    from msc_sle_crf.services import Site, Workspace

    secrets_ = Secrets(args.password_stdin)
    with Site.open(Path(args.db)) as site:
        if args.recovery_code:
            code = secrets_.ask(L("Recovery code:", "Code de récupération :"))
            new = secrets_.ask_new(L(f"New password for {args.user}:", f"Nouveau mot de passe de {args.user} :"))
            site.reset_with_recovery_code(code, args.user, new)
        else:
            current = secrets_.ask(L(f"Current password for {args.user}:",
                                     f"Mot de passe actuel de {args.user} :"))
            actor = site.authenticate(args.user, current)
            services = Workspace(site, actor)
            new = secrets_.ask_new(L("New password:", "Nouveau mot de passe :"))
            services.accounts.change_password(current, new)
    _say(L("Password changed.", "Mot de passe modifié."))
    return 0


def say_trail_report(result: Any, *, problems: Sequence[str | L] = (), where: str = "",
                     data_checked: bool = True, not_checked: str | None = None, unexplained_total: int = 0,
                     unexplained: Sequence[str] = ()) -> None:
    """The trail's and the data's part of a verify report, the same for a database (``verify``) and a hub (``hub
    verify``, ``where`` names it): the trail (or its first bad record), then ``problems``, then the data against
    the trail when the trail holds (``data_checked``: the pages were readable), or why it was not checked."""
    on = (f" on the hub {where}", f" sur le hub {where}") if where else ("", "")
    if result.ok:
        _say(L(f"Audit trail: OK ({result.records} records{on[0]}, chain intact, each transaction signed by its "
               f"author; {result.signatures_checked} signatures checked now)",
               f"Piste d'audit : OK ({result.records} enregistrements{on[1]}, chaîne intacte, chaque transaction "
               f"signée par son auteur ; {result.signatures_checked} signatures vérifiées maintenant)"))
    else:
        _say(Msg.AUDIT_BROKEN.render(record=result.first_bad_id, detail=result.problem), sys.stderr)
    for line in problems:
        _say(line, sys.stderr)
    if not_checked:
        _say(L(f"Data against the trail: not checked ({not_checked})",
               f"Données contre la piste : non vérifiées ({not_checked})"), sys.stderr)
    elif result.ok and data_checked and unexplained_total:
        _say(L(f"Data against the trail: FAILED: {unexplained_total} stored item(s) the trail does not explain:",
               f"Données contre la piste : ÉCHEC : {unexplained_total} élément(s) stocké(s) que la piste "
               "n'explique pas :"), sys.stderr)
        for line in unexplained:
            _say(f"  - {line}", sys.stderr)
    elif result.ok and data_checked:
        _say(L("Data against the trail: OK (every stored value, state, signature, SDV mark and query is what the "
               "trail says)", "Données contre la piste : OK (chaque valeur, état, signature, vérification et "
               "requête stockés sont ce que dit la piste)"))


def cmd_verify(args: argparse.Namespace) -> int:
    site, services, _ = _open(args)
    with site:
        report = services.integrity.verify(full=True, receipts=[Path(p) for p in args.receipt or []],
                                           recheck_signatures=args.all_signatures)
    if report.page_problems:
        _say(L(f"Database pages: FAILED ({'; '.join(report.page_problems[:3])})",
               f"Pages de la base : ÉCHEC ({'; '.join(report.page_problems[:3])})"), sys.stderr)
    else:
        _say(L("Database pages: OK (every page decrypts and authenticates; structure intact)",
               "Pages de la base : OK (chaque page se déchiffre et s'authentifie ; structure intacte)"))
    say_trail_report(report.audit, problems=(*report.loss_messages(), *report.anchor_problems,
                                             *report.receipt_problems),
                     data_checked=not report.page_problems, unexplained_total=report.unexplained_total,
                     unexplained=[item.line() for item in report.unexplained[:50]])
    if report.receipts_checked and not report.receipt_problems:
        _say(L(f"Receipts: OK ({report.receipts_checked} checked: the trail holds each one's record unchanged)",
               f"Reçus : OK ({report.receipts_checked} vérifié(s) : la piste contient l'enregistrement de chacun, "
               "inchangé)"))
    return 0 if report.ok else 6


def cmd_backup(args: argparse.Namespace) -> int:
    from msc_sle_crf.services.backup import create_backup

    site, services, _ = _open(args)
    with site:
        out = create_backup(services, Path(args.out))
    _say(L(f"Encrypted backup written: {out}", f"Sauvegarde chiffrée écrite : {out}"))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from msc_sle_crf.services.backup import restore_backup

    secrets_ = Secrets(args.password_stdin)
    password = secrets_.ask(L(f"Password for {args.user} (as in the backup):",
                              f"Mot de passe de {args.user} (celui de la sauvegarde) :"))
    result = restore_backup(Path(args.backup), Path(args.db), args.user, password, force=args.force)
    _say(L(f"Restored {result.db_path} from the backup of {result.created_utc}: "
           f"{result.audit_records} audit records verified.",
           f"{result.db_path} restaurée depuis la sauvegarde du {result.created_utc} : "
           f"{result.audit_records} enregistrements d'audit vérifiés."))
    for path in result.replaced:
        _say(L(f"The previous file was kept as {path}", f"L'ancien fichier a été conservé sous {path}"))
    warning = result.workstation_warning()
    if warning is not None:
        _say(warning)
    return 0


def cmd_forms_check(args: argparse.Namespace) -> int:
    """Compile the form set as the app does; print every error with file and line; exit 1 if any."""
    from msc_sle_crf.formdef import check_dir, default_forms_dir

    directory = Path(args.dir) if args.dir else default_forms_dir()
    try:
        is_dir = directory.is_dir()
        reason = L("it is not a folder", "ce n'est pas un dossier")
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        is_dir, reason = False, L(why, why)
    if not is_dir:
        from msc_sle_crf.errors import StoreError

        raise StoreError(Msg.INPUT_UNREADABLE, path=str(directory)[:300], reason=reason)
    result = check_dir(directory)
    for problem in [*result.errors, *result.warnings]:
        print(problem, file=sys.stderr if not problem.warning else sys.stdout)
    if result.errors:
        _say(L(f"{len(result.errors)} error(s): the app will not start with these forms.",
               f"{len(result.errors)} erreur(s) : l'application ne démarrera pas avec ces formulaires."),
             sys.stderr)
        return 1
    assert result.study is not None
    items = sum(len(f.all_items()) for f in result.study.forms.values())
    _say(L(f"OK: {len(result.study.forms)} forms, {items} items, {len(result.study.meta.events)} visits.",
           f"OK : {len(result.study.forms)} formulaires, {items} éléments, {len(result.study.meta.events)} visites."))
    return 0


def cmd_pdf(args: argparse.Namespace) -> int:
    """A signed PDF: one form, a visit, a subject's casebook, or the blank annotated CRF."""
    from msc_sle_crf.services.entry import FormRef

    if not args.blank and not args.subject:
        raise ValidationError(Msg.FIELD_REQUIRED, field=L("--subject (or --blank)", "--subject (ou --blank)"))
    if args.form and not args.visit:
        raise ValidationError(Msg.FIELD_REQUIRED, field=L("--visit (with --form)", "--visit (avec --form)"))
    site, services, _secrets = _open(args)
    with site:
        printing = services.printing
        printing.check_output(args.out)  # before the (long) rendering: a refused target changes nothing
        if args.blank:
            pdf, what = printing.blank_crf_pdf(), "annotated CRF"
        elif args.form:
            pdf = printing.form_pdf(FormRef(args.subject, args.visit, args.form), with_audit=args.audit)
            what = f"CRF {args.subject} {args.visit} {args.form}"
        else:
            pdf = printing.casebook_pdf(args.subject, event=args.visit, with_audit=args.audit)
            what = f"casebook {args.subject}" + (f" {args.visit}" if args.visit else "")
        printing.write(pdf, Path(args.out), what)
        _say(L(f"Signed PDF written: {args.out}", f"PDF signé écrit : {args.out}"))
        return 0


def cmd_cert_import(args: argparse.Namespace) -> int:
    """Replace the site's PDF signing certificate by one from a PKCS#12 file (administrators)."""
    from msc_sle_crf.fileutil import check_input_file
    from msc_sle_crf.services.printing import import_pkcs12

    p12 = check_input_file(args.p12, max_bytes=1 << 20)  # before any password is asked
    site, services, secrets_ = _open(args)
    with site:
        p12_password = secrets_.ask(L("Password of the PKCS#12 file:", "Mot de passe du fichier PKCS#12 :"))
        try:
            data = p12.read_bytes()
        except OSError as exc:
            from msc_sle_crf.errors import StoreError

            raise StoreError(Msg.INPUT_UNREADABLE, path=str(p12), reason=L(exc.strerror or str(exc),
                                                                           exc.strerror or str(exc))) from None
        subject = import_pkcs12(services.ctx, data, p12_password.encode() or None)
        _say(L(f"Signing certificate imported: {subject}", f"Certificat de signature importé : {subject}"))
        return 0


def cmd_run(args: argparse.Namespace) -> int:
    from msc_sle_crf.ui.app import run_gui

    return int(run_gui(Path(args.db) if args.db else None, lang=args.lang))


def cmd_selfcheck(args: argparse.Namespace) -> int:
    from msc_sle_crf.cli import selfcheck

    return selfcheck.run(Path(args.keep) if args.keep else None)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the argument and the rule, and where the help is (the usage
    block it prints by default is many lines, some of them cut). Sub-commands inherit it."""

    def error(self, message: str) -> Any:  # argparse's own words for the rule (English): it names the argument
        hint = (L("a value that starts with '-' is written --option=value",
                  "une valeur qui commence par '-' s'écrit --option=valeur") if "expected one argument" in message
                else L(f"'{self.prog} --help' lists the options", f"'{self.prog} --help' donne les options"))
        self.exit(2, f"{self.prog}: {message} ({hint})\n")


def build_parser() -> argparse.ArgumentParser:  # noqa: PLR0915 - one declaration per command
    parser = _Parser(prog=PROG, description=f"{STUDY_NAME} ({PROTOCOL_NUMBER}) bedside eCRF")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--lang", choices=["fr", "en"], help="language of messages and of the app")
    sub = parser.add_subparsers(dest="command")

    def command(name: str, func: Callable[[argparse.Namespace], int], help_: str, *, parent: object = sub,
                db: bool = True, user: bool = False, stdin: bool = False) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_)  # type: ignore[attr-defined]
        p.set_defaults(func=func)
        if db:
            p.add_argument("--db", required=True, help="database file (.crfdb); its key file sits beside it")
        if user:
            p.add_argument("--user", required=True, help="your user name")
        if stdin or user:
            p.add_argument("--password-stdin", action="store_true",
                           help="read password(s) from standard input, one per line, instead of prompting")
        return p

    run = command("run", cmd_run, "start the app (on the training database when no --db is given)", db=False)
    run.add_argument("--db", help="database file; default: the training database, created on first run")

    p = command("init", cmd_init, "create a new site database and its administrator", stdin=True)
    p.add_argument("--admin", required=True, help="administrator user name")
    p.add_argument("--full-name", help="administrator's full name")
    p.add_argument("--site-name", help="site name (default: Hôpital Saint-Louis, Paris)")
    p.add_argument("--site-number", help="two-digit site number (default 01)")

    demo = command("demo", cmd_demo, "create a TRAINING database with demo accounts")
    for kdf_parser in (p, demo):
        kdf_parser.add_argument("--kdf-time-cost", type=int, help="advanced: Argon2id passes (default: tuned)")
        kdf_parser.add_argument("--kdf-memory-mib", type=int, help="advanced: Argon2id memory in MiB")

    users = sub.add_parser("user", help="manage user accounts").add_subparsers(dest="user_command", required=True)
    p = command("add", cmd_user_add, "create an account (prints a one-time password)", parent=users, user=True)
    p.add_argument("--name", required=True, help="new user name")
    p.add_argument("--full-name", required=True)
    p.add_argument("--role", required=True, choices=["admin", "investigator", "nurse", "monitor"])
    command("list", cmd_user_list, "list accounts", parent=users, user=True)
    p = command("disable", cmd_user_disable, "disable an account (removes its key slot)", parent=users, user=True)
    p.add_argument("--name", required=True)
    p.add_argument("--reason", required=True)
    p = command("enable", cmd_user_enable, "enable a disabled account again (prints a one-time password)",
                parent=users, user=True)
    p.add_argument("--name", required=True)
    p.add_argument("--reason", required=True)
    p = command("reset", cmd_user_reset, "give a user a new one-time password", parent=users, user=True)
    p.add_argument("--name", required=True)
    p = command("certify", cmd_user_certify, "issue a user's personal PDF signing certificate (administrators)",
                parent=users, user=True)
    p.add_argument("--name", required=True)
    p = command("passwd", cmd_user_passwd, "change your password, or set one with the recovery code",
                parent=users, user=True)
    p.add_argument("--recovery-code", action="store_true",
                   help="use the site recovery code instead of the current password")

    p = command("verify", cmd_verify, "check database pages, the audit trail and its signatures, and the data "
                "against the trail (exit 0 only if all hold)", user=True)
    p.add_argument("--receipt", action="append", metavar="FILE",
                   help="a receipt, signed PDF, CSV export or backup: the trail must still hold its record "
                   "(repeatable)")
    p.add_argument("--all-signatures", action="store_true",
                   help="check every signature again (by default those your last successful check covered are not)")
    p = command("receipt", cmd_receipt, "write a receipt of the trail head (signed by you) to keep outside the site",
                user=True)
    p.add_argument("--out", required=True)
    command("rotate-keys", cmd_rotate_keys, "give the database a new key sealed to every current account "
            "(administrators)", user=True)
    p = command("pdf-verify", cmd_pdf_verify, "check a signed PDF against the site CA's pinned fingerprint and "
                "name its signer", db=False)
    p.add_argument("file", help="the PDF to check")
    p.add_argument("--fingerprint", help="the site CA's SHA-256 fingerprint (as printed at init)")
    p.add_argument("--db", help="or: the site database, to read the fingerprint from")
    p.add_argument("--user", help="with --db: your user name")
    p.add_argument("--password-stdin", action="store_true", help="with --db: read your password from standard input")
    p = command("backup", cmd_backup, "write an encrypted backup (database and key file)", user=True)
    p.add_argument("--out", required=True)
    p = command("restore", cmd_restore, "check a backup and put it in place", user=True)
    p.add_argument("--backup", required=True)
    p.add_argument("--force", action="store_true", help="replace an existing database (kept aside, not deleted)")
    p = command("selfcheck", cmd_selfcheck, "check this installation end to end in a temporary folder (forms, "
                "database, sign-in, a saved value and its audit record, a signed PDF, a backup, French)", db=False)
    p.add_argument("--keep", help="work in this folder and keep what was made")
    _study_commands(sub, command)
    from msc_sle_crf.cli.reports import add_report_commands

    add_report_commands(sub, command)  # report safety / report outcomes
    from msc_sle_crf.cli.export import add_export_commands

    add_export_commands(sub, command)  # export / export-verify
    from msc_sle_crf.cli.workstation import add_workstation_commands

    add_workstation_commands(sub, command)  # workstation add / open / show / handover (issue 18)
    from msc_sle_crf.cli.packets import add_packet_commands

    add_packet_commands(sub, command)  # packet export / packet import (issue 18)
    from msc_sle_crf.cli.hub import add_hub_commands

    add_hub_commands(sub, command)  # hub init / verify / ingest (issue 18)
    _lang_after_the_command(parser)
    return parser


def _lang_after_the_command(parser: argparse.ArgumentParser) -> None:
    """``--lang`` after the command too (``run --lang fr``), on every command that has no ``--lang`` of its own (a
    report's is the report's language). Not given there, the one before the command stays (``SUPPRESS``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in {id(p): p for p in action.choices.values()}.values():
                if "--lang" not in child._option_string_actions:
                    child.add_argument("--lang", choices=["fr", "en"], default=argparse.SUPPRESS,
                                       help="language of messages and of the app")
                _lang_after_the_command(child)


def _study_commands(sub: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    p = command("pdf", cmd_pdf, "write a signed PDF CRF (a form, a visit, a casebook, or the blank annotated CRF)",
                user=True)
    p.add_argument("--subject", help="subject number, e.g. 01-003")
    p.add_argument("--visit", help="visit (study event) id, e.g. M6")
    p.add_argument("--form", help="form id, e.g. selena_sledai (needs --visit)")
    p.add_argument("--blank", action="store_true", help="the blank annotated CRF of the study")
    p.add_argument("--audit", action="store_true", help="append each form's audit trail")
    p.add_argument("--out", required=True, help="the PDF file to write")
    cert = sub.add_parser("cert", help="the site's PDF signing certificate").add_subparsers(dest="cert_command",
                                                                                             required=True)
    p = command("import", cmd_cert_import, "use a PKCS#12 certificate authority (.p12/.pfx) as the site CA",
                parent=cert, user=True)
    p.add_argument("--p12", required=True, help="PKCS#12 file; its password is asked after yours")
    command("show", cmd_cert_show, "show the site CA's SHA-256 fingerprint (what to pin)", parent=cert, user=True)
    forms = sub.add_parser("forms", help="form definitions").add_subparsers(dest="forms_command", required=True)
    p = command("check", cmd_forms_check, "compile the form definitions and list every error with file and line",
                parent=forms, db=False)
    p.add_argument("dir", nargs="?", help="folder holding study.yaml and the form files (default: the shipped forms)")


def opened_file(argv: Sequence[str]) -> list[str]:
    """``msc-sle-crf FILE`` (the menu entry's ``Exec=… %F``: a file manager's "Open with", a shortcut given a
    site database) is ``msc-sle-crf run --db FILE``, as a password manager opens the file it is given. Only a
    database file (``.crfdb``) is taken so; anything else is left to the parser (an unknown command's line)."""
    args = list(argv)
    values = 0
    for n, arg in enumerate(args):
        if values:
            values -= 1
            continue
        if arg == "--lang":
            values = 1
            continue
        if arg.startswith("-"):
            continue
        if arg.lower().endswith(".crfdb") and "run" not in args[:n]:
            return [*args[:n], "run", "--db", arg, *args[n + 1:]]
        break
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(opened_file(sys.argv[1:] if argv is None else argv))
    if args.lang:
        set_lang(Lang(args.lang))
    if args.command is None:
        args.db = None
        args.func = cmd_run
    from msc_sle_crf import logging_setup

    logging_setup.configure()
    try:
        return int(args.func(args))
    except CrfError as exc:
        print(f"{PROG}: {exc.message()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: {L('interrupted', 'interrompu').get()}", file=sys.stderr)
        return 130
    except Exception as exc:
        incident = logging_setup.log_incident(exc)
        print(f"{PROG}: {Msg.INTERNAL.render(incident=incident)}", file=sys.stderr)
        return 70
