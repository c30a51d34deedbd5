"""How a form looks: one style sheet for the whole form, field states as a dynamic property, state badges."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QLabel, QWidget

from msc_sle_crf.ui.common import named

# A field's state as shown: ok / unusual (soft) / impossible (hard) / missing / empty / calculated.
BADGES = {"ok": "✓", "soft": "!", "hard": "✕", "missing": "•", "none": "", "calc": "="}

# The plain backgrounds fields sit on (a section, a row card of a repeating group): used in FORM_STYLE and by the
# line edits that paint what lies beneath them themselves (editors.LineEditor.set_surface).
SURFACES = {"section": "#ffffff", "rowCard": "#f7f9fb"}

# A line edit's border in its field's state (a ``state`` property, re-polished when the state changes, never for a key
# that keeps it: editors.LineEditor.set_state); labels that change as the user types take a palette colour instead.
BORDER_COLOURS = {"ok": "#9cc89f", "soft": "#f0a020", "hard": "#d32f2f"}
PLAIN_BORDER = "#b8c2cc"  # no state to show (empty, required)

FORM_STYLE = """
QLabel#sectionTitle { font-size: 14pt; font-weight: bold; color: #1d2b3a; }
QLabel#fieldLabel { font-size: 12pt; color: #1d2b3a; }
QLabel#help { color: #5f6b76; font-size: 10pt; }
QLabel#formTitle { font-size: 18pt; font-weight: bold; color: #1d2b3a; }
QLabel#badge { font-size: 15pt; font-weight: bold; min-width: 22px; }
QLabel#unit { color: #33414e; min-width: 48px; }
QLabel#status { padding: 4px 12px; border-radius: 11px; font-weight: bold; color: white; }
QLabel#outdated { background: #fff4e0; border: 1px solid #f0a020; padding: 6px; border-radius: 4px; }
QLabel#error { color: #b00020; font-weight: bold; }
QLabel#gradeHelp { background: #f4f7fb; border: 1px solid #d5dbe1; border-radius: 4px; padding: 6px;
    font-size: 10pt; }
QTextBrowser#scorePanel { background: #f7faf7; border: 1px solid #cfe3cf; border-radius: 6px; font-size: 11pt; }
QLineEdit { min-height: 38px; font-size: 12pt; border: 2px solid """ + PLAIN_BORDER + """; border-radius: 4px; }
QComboBox { min-height: 38px; font-size: 12pt; }
QRadioButton, QCheckBox { min-height: 34px; font-size: 12pt; spacing: 8px; }
QRadioButton::indicator, QCheckBox::indicator { width: 22px; height: 22px; }
QToolButton { min-width: 38px; min-height: 38px; font-size: 14pt; }
QPushButton#confirm { background: #fff4e0; border: 1px solid #f0a020; color: #6b4000; }
QListWidget#blockers { border: 1px solid #d32f2f; background: #fff5f5; font-size: 11pt; }
QComboBox[state="ok"] { border: 2px solid #9cc89f; border-radius: 4px; }
QComboBox[state="soft"] { border: 2px solid #f0a020; border-radius: 4px; }
QComboBox[state="hard"] { border: 2px solid #d32f2f; border-radius: 4px; }
QComboBox[state="missing"], QComboBox[state="none"] { border: 2px solid #b8c2cc; border-radius: 4px; }
QLineEdit[state="calc"] { border: 2px solid #d5dbe1; border-radius: 4px; background: #f2f4f6; }
""" + "".join(f'QLineEdit[state="{state}"] {{ border-color: {colour}; }}\n'
             for state, colour in BORDER_COLOURS.items()) + (
    f"QFrame#section {{ background: {SURFACES['section']}; border: 1px solid #d5dbe1; border-radius: 8px; }}\n"
    f"QFrame#rowCard {{ background: {SURFACES['rowCard']}; border: 1px solid #e1e6eb; border-radius: 6px; }}\n")
TEXT_COLOURS = {"ok": "#2e7d32", "soft": "#b26a00", "hard": "#b00020", "missing": "#5f6b76", "none": "#5f6b76",
                "calc": "#5f6b76"}


READ_ONLY_TEXT = "#1d2b3a"  # the form's own text colour: read-only values are as legible as entered ones


def full_contrast(widget: QWidget) -> None:
    """A disabled (read-only) editor drawn with the normal text colour instead of Qt's light grey; its children
    (radio buttons, check boxes) inherit the palette."""
    for target in (widget, *widget.findChildren(QWidget)):  # styled children keep a palette of their own
        palette = target.palette()
        for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
            palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(READ_ONLY_TEXT))
        target.setPalette(palette)


_PALETTES: dict[tuple[str, str | None], QPalette] = {}


def set_colour(label: QWidget, state: str, *, bold: bool | None = False, surface: str | None = None) -> None:
    """A label's text in a state's colour (and bold), by palette and font: no style sheet re-polish. The palette is
    made once per state and ``surface`` (the plain colour the label fills its background with, see ``on_surface``)
    and then only set: nothing is copied or coloured at a keystroke. ``bold=None``: the font is left as it is (the
    badge: bold by its style sheet rule, which a font set here would not change). The caller knows what the label
    shows (a field remembers it): this sets it again."""
    key = (state, surface)
    palette = _PALETTES.get(key)
    if palette is None:
        palette = QPalette(label.palette())  # the application's, for a label of the form
        palette.setColor(QPalette.ColorRole.WindowText, QColor(TEXT_COLOURS.get(state, "#5f6b76")))
        if surface is not None:
            palette.setColor(QPalette.ColorRole.Window, QColor(surface))
        _PALETTES[key] = palette
    label.setPalette(palette)
    if bold is not None:
        font = label.font()
        if font.bold() != bold:
            font.setBold(bold)
            label.setFont(font)


def on_surface(label: QLabel, surface: str | None) -> QLabel:
    """A label that changes as the user types (a field's state badge, its message line) fills its background with
    the plain colour it sits on: Qt then repaints the label alone at a keystroke, not the section, the form and the
    window beneath it (an opaque widget). Unknown surface: left transparent."""
    if surface is not None:
        palette = label.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor(surface))
        label.setPalette(palette)
        label.setAutoFillBackground(True)
    return label


def set_state(widget: QWidget, state: str) -> None:
    """Style by a dynamic property (one style sheet for the whole form, re-polished), not per-widget sheets. For
    what does not change per keystroke (drop-downs); see ``set_colour`` and ``LineEditor.set_state``."""
    if widget.property("state") != state:
        widget.setProperty("state", state)
        if widget.testAttribute(Qt.WidgetAttribute.WA_WState_Polished):  # else polished when first shown
            widget.style().unpolish(widget)
            widget.style().polish(widget)


_BORDERS: dict[tuple[str, int, int, float], QPixmap] = {}


def border_pixmap(colour: str, size: QSize, ratio: float = 1.0) -> QPixmap:
    """A line edit's rounded 2-pixel border in ``colour`` on a transparent pixmap of its size (drawn once per
    colour and size; a label shows it over the line edit: editors.LineEditor.set_state)."""
    key = (colour, size.width(), size.height(), ratio)
    found = _BORDERS.get(key)
    if found is None:
        if len(_BORDERS) > 256:
            _BORDERS.clear()
        found = QPixmap(size * ratio)
        found.setDevicePixelRatio(ratio)
        found.fill(Qt.GlobalColor.transparent)
        painter = QPainter(found)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(colour), 2))
        painter.drawRoundedRect(QRectF(0, 0, size.width(), size.height()).adjusted(1, 1, -1, -1), 4, 4)
        painter.end()
        _BORDERS[key] = found
    return found


# A widget whose minimum and maximum sizes are equal does not ask its parent's layout to recompute when its text,
# font or palette changes (QWidget::updateGeometry): what changes at every keystroke is pinned so that a keystroke
# repaints a few widgets instead of laying out the whole form again.
_FREE = 16777215  # QWIDGETSIZE_MAX


def pin(widget: QWidget) -> None:
    """Fix a widget at its current size (until ``unpin``)."""
    size = widget.size()
    if widget.minimumSize() != size or widget.maximumSize() != size:
        widget.setFixedSize(size)


def unpin(widget: QWidget) -> None:
    if widget.minimumWidth() or widget.minimumHeight() or widget.maximumWidth() != _FREE \
            or widget.maximumHeight() != _FREE:
        widget.setMinimumSize(0, 0)
        widget.setMaximumSize(_FREE, _FREE)


def fits(label: QLabel, text: str) -> bool:
    """Whether ``text`` (bold, the wider case) fits the label's current place, word-wrapped at its width."""
    if not text:
        return True
    font = QFont(label.font())
    font.setBold(True)
    margins = label.contentsMargins()
    width = label.width() - margins.left() - margins.right() - 2 * label.margin()
    if width <= 0:
        return False
    needed = QFontMetrics(font).boundingRect(QRect(0, 0, width, 1 << 20), int(Qt.TextFlag.TextWordWrap), text)
    return needed.height() + margins.top() + margins.bottom() + 2 * label.margin() <= label.height()


def pin_badge(badge: QLabel) -> bool:
    """The state badge at a size that holds every badge (once its style sheet font applies), so a state change at a
    keystroke repaints the badge only. Whether it is (or was already) pinned."""
    if badge.maximumWidth() != _FREE:
        return True
    if not badge.testAttribute(Qt.WidgetAttribute.WA_WState_Polished):
        return False
    font = badge.font()
    known = (font.key(), badge.minimumSizeHint().width())
    size = _BADGE_SIZES.get(known)
    if size is None:  # the same for every badge of a form: measured once
        font = QFont(font)
        font.setBold(True)
        metrics = QFontMetrics(font)
        width = max(metrics.horizontalAdvance(glyph) for glyph in BADGES.values()) + 4
        size = _BADGE_SIZES[known] = QSize(max(width, known[1], 22), metrics.height() + 4)
    badge.setFixedSize(size)
    return True


_BADGE_SIZES: dict[tuple[str, int], QSize] = {}
_BADGE_PIXMAPS: dict[tuple[str, str, int, int, float], QPixmap] = {}


def badge_pixmap(kind: str, font: QFont, size: QSize, ratio: float = 1.0) -> QPixmap:
    """A state badge's glyph in its state's colour, centred in the badge's (pinned) size on a transparent picture,
    drawn once per state, font and size: a state change at a keystroke then sets a picture (no palette to resolve,
    no text to lay out when it repaints)."""
    key = (kind, font.key(), size.width(), size.height(), ratio)
    found = _BADGE_PIXMAPS.get(key)
    if found is None:
        if len(_BADGE_PIXMAPS) > 256:
            _BADGE_PIXMAPS.clear()
        found = QPixmap(size * ratio)
        found.setDevicePixelRatio(ratio)
        found.fill(Qt.GlobalColor.transparent)
        painter = QPainter(found)
        painter.setFont(font)
        painter.setPen(QColor(TEXT_COLOURS.get(kind, "#5f6b76")))
        painter.drawText(QRect(0, 0, size.width(), size.height()), int(Qt.AlignmentFlag.AlignCenter), BADGES[kind])
        painter.end()
        _BADGE_PIXMAPS[key] = found
    return found


__all__ = ["BADGES", "BORDER_COLOURS", "FORM_STYLE", "PLAIN_BORDER", "READ_ONLY_TEXT", "SURFACES", "TEXT_COLOURS",
           "badge_pixmap", "border_pixmap", "fits", "full_contrast", "named", "on_surface", "pin", "pin_badge",
           "set_colour", "set_state", "unpin"]
