"""Names of the main window's menus and menu items that messages outside the UI point to ("use Administration >
User accounts"): one constant for the menu (ui/menus.py) and for the message, so that a message never names a menu
that does not exist. No Qt here (the domain core's messages use it)."""

from __future__ import annotations

from msc_sle_crf.i18n import L

ADMINISTRATION = L("Administration", "Administration")
USER_ACCOUNTS = L("User accounts…", "Comptes utilisateurs…")


def menu_path(*names: L) -> L:
    """``Administration > User accounts`` in both languages (without the items' trailing ellipsis)."""
    return L(" > ".join(n.en.rstrip("…") for n in names), " > ".join(n.fr.rstrip("…") for n in names))


ACCOUNTS_PATH = menu_path(ADMINISTRATION, USER_ACCOUNTS)
