"""Draws the application icon (packaging/icons/msc-sle-crf.png, and .ico for Windows) with Qt, offscreen:
python packaging/make_icon.py. The files are committed; run again only to change the design."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPen

OUT = Path(__file__).resolve().parent / "icons"


def draw(size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(QColor("#1f5fa8"))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawRoundedRect(QRectF(size * 0.04, size * 0.04, size * 0.92, size * 0.92), size * 0.18, size * 0.18)
    p.setPen(QPen(QColor("white"), max(1.0, size * 0.06)))
    p.drawLine(int(size * 0.5), int(size * 0.16), int(size * 0.5), int(size * 0.44))  # a cross: a clinical form
    p.drawLine(int(size * 0.36), int(size * 0.30), int(size * 0.64), int(size * 0.30))
    font = QFont("DejaVu Sans", max(6, int(size * 0.2)))
    font.setBold(True)
    p.setFont(font)
    p.drawText(QRectF(0, size * 0.5, size, size * 0.4), Qt.AlignmentFlag.AlignCenter, "SLE")
    p.end()
    return image


def main() -> int:
    QGuiApplication(sys.argv)
    OUT.mkdir(exist_ok=True)
    ok = draw(256).save(str(OUT / "msc-sle-crf.png"))
    ok = draw(256).save(str(OUT / "msc-sle-crf.ico")) and ok
    print(OUT, "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
