"""The training database: demo accounts with published passwords, a few demo subjects, TRAINING everywhere."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from msc_sle_crf.clock import Clock, local_now
from msc_sle_crf.demo_accounts import DEMO_ACCOUNTS
from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.i18n import L
from msc_sle_crf.security.keyslots import MIN_KDF, KdfParams, calibrate
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.store.site import Actor, Site


def create_demo(db_path: Path, *, kdf: KdfParams | None = None, clock: Clock | None = None,
                study: StudyDef | None = None, progress: Callable[[L], None] | None = None) -> Site:
    """The TRAINING database, in a few seconds (``progress``: what it is doing, step by step).

    Its accounts' passwords are published (printed here and on its sign-in screen), so a slow key derivation would
    protect nothing there: they and its recovery slot use the code's floor (``MIN_KDF``), unless ``kdf`` is given.
    The parameters tuned to this computer are measured meanwhile on another thread and become the key file's default,
    so that an account added later gets them, as on a real site."""
    say = progress or (lambda _text: None)
    tuned: list[KdfParams] = []
    tuner = threading.Thread(target=lambda: tuned.append(calibrate()), daemon=True) if kdf is None else None
    if tuner is not None:
        tuner.start()
    say(L("site and accounts", "site et comptes"))

    def build(site: Site, admin: Actor) -> None:  # in the site's work folder, before it exists (all or nothing)
        from msc_sle_crf.formdef import load_study
        from msc_sle_crf.services.demo_data import populate

        admin_ws = Workspace(site, admin, study or load_study())
        for username, full_name, role, password in DEMO_ACCOUNTS[1:]:
            admin_ws.accounts.add_user(username, full_name, role, initial_password=password,
                                       must_change_password=False)
        doctor, nurse = DEMO_ACCOUNTS[1], DEMO_ACCOUNTS[2]
        today = local_now(site.clock).date()
        populate(Workspace(site, site.authenticate(doctor[0], doctor[3]), admin_ws.study),
                 Workspace(site, site.authenticate(nurse[0], nurse[3]), admin_ws.study), admin_ws.study, today,
                 progress=lambda done, total: say(L(f"subject {done} of {total}", f"patient {done} sur {total}")))
        say(L("signing certificate", "certificat de signature"))
        admin_ws.printing.certificate()  # the site's PDF signing certificate is made with the site

    admin_name, admin_full, _, admin_pw = DEMO_ACCOUNTS[0]
    site, _admin, _recovery = Site.initialize(
        db_path, admin_username=admin_name, admin_full_name=admin_full, admin_password=admin_pw,
        site_settings={"site_name": "Site de formation / Training site", "site_number": "99"},
        training=True, kdf=kdf or MIN_KDF, clock=clock, finish=build)
    if tuner is not None:
        try:
            tuner.join()
            site.keyfile.kdf_default = tuned[0] if tuned else calibrate()
            site.keyfile.save()
        except BaseException:
            site.close()
            raise
    return site


def demo_accounts_text(db: object) -> L:
    """What is printed when a TRAINING database is created: where it is and its published accounts."""
    rows = "\n".join(f"    {username:<15} {role:<13} {password}" for username, _full, role, password in DEMO_ACCOUNTS)
    return L(f"TRAINING database created: {db}\nDemo accounts (training only):\n{rows}",
             f"Base de FORMATION créée : {db}\nComptes de démonstration (formation uniquement) :\n{rows}")
