from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# No display, and nothing written to the real home directory, for every test and every subprocess they start.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_SANDBOX = Path(tempfile.mkdtemp(prefix="msc-sle-crf-tests-"))
os.environ["MSC_SLE_CRF_DATA_DIR"] = str(_SANDBOX / "data")
os.environ["MSC_SLE_CRF_LOG_DIR"] = str(_SANDBOX / "logs")
os.environ["MSC_SLE_CRF_LANG"] = "en"
os.environ["MSC_SLE_CRF_WORKSTATION"] = "test-bench-01"

import pytest  # noqa: E402

from msc_sle_crf.clock import FakeClock  # noqa: E402
from msc_sle_crf.i18n import Lang, set_lang  # noqa: E402
from msc_sle_crf.security import keyslots  # noqa: E402
from msc_sle_crf.security.keyslots import KdfParams  # noqa: E402
from msc_sle_crf.services import Site, Workspace  # noqa: E402

FAST_KDF = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)
# The production floor (security/keyslots.KDF_FLOOR) would make every test sign-in cost ~50 ms: lowered here only.
keyslots.KDF_FLOOR = FAST_KDF
ADMIN_PW = "correct-horse-42"
# The hub's throwaway PostgreSQL server (issue 18): fixtures pg_cluster and hub_db, used by tests/test_hub_*.py only.
pytest_plugins = ("tests.hub_pg",)


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    set_lang(Lang.EN)
    yield
    set_lang(Lang.EN)


@pytest.fixture(autouse=True)
def _no_scheduled_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The full check run in the background after sign-in (1.5 s after a main window opens) stays out of tests that
    are not about it, so that their audit trails are their own (the tests of it start it themselves)."""
    monkeypatch.setattr("msc_sle_crf.ui.main_window.CHECK_AFTER_SIGN_IN_MS", 10**9)


@pytest.fixture(autouse=True)
def _no_print_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nor does the printing warm-up after sign-in (reportlab and pyHanko loaded, a throwaway page signed in a
    background thread): it would draw and sign while another test counts what a print does (tests/test_pdf.py
    tests it)."""
    monkeypatch.setattr("msc_sle_crf.pdf.warm", lambda: None)


@pytest.fixture(autouse=True)
def _no_remembered_folders() -> None:
    """Each test's file dialogs start where a first use would (the documents folder): the folder a dialog last
    used is kept in the data folder's settings file (ui/last_folders.py), which an earlier test's save would
    otherwise leave behind (test_qt_own_buttons_are_french failed after the PDF tests)."""
    (_SANDBOX / "data" / "ui-settings.ini").unlink(missing_ok=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "site" / "trial.crfdb"


@pytest.fixture
def site_and_code(db_path: Path, clock: FakeClock) -> Iterator[tuple[Site, str]]:
    site, _admin, code = Site.initialize(db_path, admin_username="admin", admin_full_name="Ada Admin",
                                         admin_password=ADMIN_PW, kdf=FAST_KDF, clock=clock)
    yield site, code
    site.close()


@pytest.fixture
def site(site_and_code: tuple[Site, str]) -> Site:
    return site_and_code[0]


@pytest.fixture
def admin(site: Site) -> Workspace:
    return Workspace.sign_in(site, "admin", ADMIN_PW)


def make_user(admin: Workspace, username: str, role: str, password: str | None = None) -> str:
    """Create a user with a known password that need not be changed."""
    password = password or f"pw-{username[::-1]}-2026"
    admin.accounts.add_user(username, username.title(), role, initial_password=password, must_change_password=False)
    return password
