"""Where things live, and the workstation id written into every audit record."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

APP_NAME = "msc-sle-crf"
DB_SUFFIX = ".crfdb"


def _platformdirs() -> ModuleType:
    import platformdirs  # only when a folder is asked for (not before the sign-in window when --db is given)

    return platformdirs


def data_dir() -> Path:
    override = os.environ.get("MSC_SLE_CRF_DATA_DIR")
    return Path(override) if override else Path(_platformdirs().user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    override = os.environ.get("MSC_SLE_CRF_LOG_DIR")
    return Path(override) if override else Path(_platformdirs().user_log_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """What the program can always make again (the compiled forms): MSC_SLE_CRF_CACHE_DIR, else beside the data when
    MSC_SLE_CRF_DATA_DIR is set, else the user's cache folder."""
    override = os.environ.get("MSC_SLE_CRF_CACHE_DIR")
    if override:
        return Path(override)
    if os.environ.get("MSC_SLE_CRF_DATA_DIR"):
        return data_dir() / "cache"
    return Path(_platformdirs().user_cache_dir(APP_NAME, appauthor=False))


def default_demo_db() -> Path:
    return data_dir() / "training" / f"msc-sle-training{DB_SUFFIX}"


def workstation_id() -> str:
    """Host name, unless the site set MSC_SLE_CRF_WORKSTATION (e.g. an asset tag)."""
    import socket

    return os.environ.get("MSC_SLE_CRF_WORKSTATION") or socket.gethostname() or "unknown-host"
