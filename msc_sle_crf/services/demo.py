"""The training database: demo accounts with published passwords, a few demo subjects, TRAINING everywhere."""

from __future__ import annotations

from pathlib import Path

from msc_sle_crf.clock import Clock, local_now
from msc_sle_crf.demo_accounts import DEMO_ACCOUNTS
from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.i18n import L
from msc_sle_crf.security.keyslots import KdfParams
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.store.site import Site


def create_demo(db_path: Path, *, kdf: KdfParams | None = None, clock: Clock | None = None,
                study: StudyDef | None = None) -> Site:
    admin_name, admin_full, _, admin_pw = DEMO_ACCOUNTS[0]
    site, admin, _recovery = Site.initialize(
        db_path, admin_username=admin_name, admin_full_name=admin_full, admin_password=admin_pw,
        site_settings={"site_name": "Site de formation / Training site", "site_number": "99"},
        training=True, kdf=kdf, clock=clock)
    from msc_sle_crf.formdef import load_study
    from msc_sle_crf.services.demo_data import populate

    study = study or load_study()
    admin_ws = Workspace(site, admin, study)
    for username, full_name, role, password in DEMO_ACCOUNTS[1:]:
        admin_ws.accounts.add_user(username, full_name, role, initial_password=password, must_change_password=False)
    doctor, nurse = DEMO_ACCOUNTS[1], DEMO_ACCOUNTS[2]
    today = local_now(site.clock).date()
    populate(Workspace(site, site.authenticate(doctor[0], doctor[3]), study),
             Workspace(site, site.authenticate(nurse[0], nurse[3]), study), study, today)
    admin_ws.printing.certificate()  # the site's PDF signing certificate is made with the site
    return site


def demo_accounts_text(db: object) -> L:
    """What is printed when a TRAINING database is created: where it is and its published accounts."""
    rows = "\n".join(f"    {username:<15} {role:<13} {password}" for username, _full, role, password in DEMO_ACCOUNTS)
    return L(f"TRAINING database created: {db}\nDemo accounts (training only):\n{rows}",
             f"Base de FORMATION créée : {db}\nComptes de démonstration (formation uniquement) :\n{rows}")
