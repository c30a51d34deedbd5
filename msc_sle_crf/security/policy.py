"""Account rules: user names, full names, the password policy and one-time passwords.

Shared by site creation (store.site) and the account services."""

from __future__ import annotations

import re
import secrets
import unicodedata

from msc_sle_crf.access import Role
from msc_sle_crf.demo_accounts import DEMO_ACCOUNTS
from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.i18n import L

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # Argon2 takes any length; this bounds the work a pasted file could cause
FULL_NAME = L("Full name", "Nom complet")
MAX_FULL_NAME = 120
# Unicode categories never allowed in a name: controls (newline, tab...), format characters (zero-width spaces and
# joiners, right-to-left overrides, BOM), line/paragraph separators, private-use, surrogates and unassigned.
_NAME_FORBIDDEN = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"}
# In free text (reasons, comments, query texts) line breaks and tabs are fine; other controls and the characters
# that reverse the direction of the text shown after them (which could disguise an audit record) are not.
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


def _shown(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def check_name(value: str, field: L, *, max_chars: int, max_bytes: int | None = None) -> str:
    """A name (a person's full name, the site's name): trimmed, NFC, not empty, within its length in characters
    (and in UTF-8 bytes when it goes into a certificate), with no control, format or invisible character."""
    clean = unicodedata.normalize("NFC", value).strip()
    if not clean:
        raise ValidationError(Msg.FIELD_REQUIRED, field=field)
    bad = sorted({_shown(ch) for ch in clean if unicodedata.category(ch) in _NAME_FORBIDDEN})
    if bad:
        raise ValidationError(Msg.TEXT_FORBIDDEN_CHARACTER, field=field, found=", ".join(bad[:5]))
    if len(clean) > max_chars:
        raise ValidationError(Msg.TEXT_TOO_LONG, field=field, limit=max_chars, count=len(clean))
    if max_bytes is not None and len(clean.encode("utf-8")) > max_bytes:
        raise ValidationError(Msg.TEXT_TOO_MANY_BYTES, field=field, limit=max_bytes, count=len(clean.encode("utf-8")))
    return clean


def check_text(value: str, field: L, *, max_chars: int) -> str:
    """Free text (a reason, a comment, a query text): trimmed, within its length, without control characters
    other than line breaks and tabs, and without direction overrides. Empty is returned as ''."""
    clean = value.strip()
    bad = sorted({_shown(ch) for ch in clean if (unicodedata.category(ch) == "Cc" and ch not in "\n\r\t")
                  or ch in _BIDI_CONTROLS or unicodedata.category(ch) in ("Cs", "Co")})
    if bad:
        raise ValidationError(Msg.TEXT_FORBIDDEN_CHARACTER, field=field, found=", ".join(bad[:5]))
    if len(clean) > max_chars:
        raise ValidationError(Msg.TEXT_TOO_LONG, field=field, limit=max_chars, count=len(clean))
    return clean
_TEMP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # nothing that reads two ways
USERNAME_RE = re.compile(r"[a-z][a-z0-9._-]{2,31}")


MIN_STRENGTH = 3  # zxcvbn score (0-4): 3 = "safely unguessable: moderate protection from offline slow-hash attacks"
# Words of this site and study an attacker tries first (zxcvbn penalises passwords built on them).
SITE_WORDS = ("msc", "sle", "lupus", "crf", "ecrf", "saint-louis", "saintlouis", "hopital", "hôpital", "aphp",
              "paris", "essai", "trial", "cellules", "infusion")
# zxcvbn's feedback (English only in the package) and its French: every string of zxcvbn/feedback.py.
_FEEDBACK_FR = {
    "Use a few words, avoid common phrases.": "Utilisez quelques mots, évitez les expressions courantes.",
    "No need for symbols, digits, or uppercase letters.":
        "Pas besoin de symboles, de chiffres ni de majuscules.",
    "Add another word or two. Uncommon words are better.":
        "Ajoutez un ou deux mots. Les mots peu courants valent mieux.",
    "Straight rows of keys are easy to guess.": "Les rangées de touches sont faciles à deviner.",
    "Short keyboard patterns are easy to guess.": "Les motifs courts du clavier sont faciles à deviner.",
    "Use a longer keyboard pattern with more turns.": "Utilisez un motif de clavier plus long, avec plus de virages.",
    'Repeats like "aaa" are easy to guess.': "Les répétitions comme « aaa » sont faciles à deviner.",
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".':
        "Les répétitions comme « abcabcabc » sont à peine plus difficiles à deviner que « abc ».",
    "Avoid repeated words and characters.": "Évitez les mots et caractères répétés.",
    'Sequences like "abc" or "6543" are easy to guess.':
        "Les suites comme « abc » ou « 6543 » sont faciles à deviner.",
    "Avoid sequences.": "Évitez les suites.",
    "Recent years are easy to guess.": "Les années récentes sont faciles à deviner.",
    "Avoid recent years.": "Évitez les années récentes.",
    "Avoid years that are associated with you.": "Évitez les années qui vous sont liées.",
    "Dates are often easy to guess.": "Les dates sont souvent faciles à deviner.",
    "Avoid dates and years that are associated with you.": "Évitez les dates et années qui vous sont liées.",
    "This is a top-10 common password.": "C'est l'un des 10 mots de passe les plus courants.",
    "This is a top-100 common password.": "C'est l'un des 100 mots de passe les plus courants.",
    "This is a very common password.": "C'est un mot de passe très courant.",
    "This is similar to a commonly used password.": "Il ressemble à un mot de passe très utilisé.",
    "A word by itself is easy to guess.": "Un mot seul est facile à deviner.",
    "Names and surnames by themselves are easy to guess.": "Les prénoms et noms seuls sont faciles à deviner.",
    "Common names and surnames are easy to guess.": "Les prénoms et noms courants sont faciles à deviner.",
    "Capitalization doesn't help very much.": "Les majuscules n'aident pas beaucoup.",
    "All-uppercase is almost as easy to guess as all-lowercase.":
        "Tout en majuscules est presque aussi facile à deviner que tout en minuscules.",
    "Reversed words aren't much harder to guess.": "Les mots à l'envers ne sont guère plus difficiles à deviner.",
    "Predictable substitutions like '@' instead of 'a' don't help very much.":
        "Les substitutions prévisibles comme « @ » pour « a » n'aident pas beaucoup.",
}


# The TRAINING database's accounts and their published passwords: each pair is accepted by the full check below (a test
# holds it), so ``demo`` need not load zxcvbn's dictionaries (0.2-0.6 s) to accept them again at every run. The same
# password under any other user name is checked as usual.
_PUBLISHED = frozenset((username, password) for username, _name, _role, password in DEMO_ACCOUNTS)


def password_feedback(password: str, username: str | None = None) -> tuple[int, L]:
    """zxcvbn's estimate (Dropbox's password strength estimator, ``zxcvbn`` on PyPI): (score 0-4, what to do, in
    English and French)."""
    from zxcvbn import zxcvbn

    result = zxcvbn(password[:200], user_inputs=[u for u in (username, *SITE_WORDS) if u])
    feedback = result.get("feedback") or {}
    parts = [p for p in (feedback.get("warning") or "", *(feedback.get("suggestions") or [])) if p]
    if not parts:
        parts = ["Add another word or two. Uncommon words are better."]
    en = " ".join(parts)
    fr = " ".join(_FEEDBACK_FR.get(p, p) for p in parts)
    return int(result.get("score", 0)), L(en, fr)


def check_password_policy(password: str, username: str | None = None) -> None:
    """At least MIN_PASSWORD_LENGTH characters, not the user name, and not easy to guess (zxcvbn score >= 3, with
    its advice in the user's language)."""
    normalized = unicodedata.normalize("NFC", password)
    if len(normalized) < MIN_PASSWORD_LENGTH:
        raise ValidationError(Msg.PASSWORD_TOO_SHORT, min_length=MIN_PASSWORD_LENGTH)
    if len(normalized) > MAX_PASSWORD_LENGTH:
        raise ValidationError(Msg.TEXT_TOO_LONG, field=L("Password", "Mot de passe"), limit=MAX_PASSWORD_LENGTH,
                              count=len(normalized))
    if username and len(username) >= 3 and username.lower() in normalized.lower():
        raise ValidationError(Msg.PASSWORD_SAME_AS_USER)
    if (username, normalized) in _PUBLISHED:
        return  # a demo account's own published password: zxcvbn accepts it (tests/test_issue13_demo.py), ~0.3 s saved
    score, advice = password_feedback(normalized, username)
    if score < MIN_STRENGTH:
        raise ValidationError(Msg.PASSWORD_TOO_WEAK, feedback=advice)


def temporary_password() -> str:
    """A one-time password handed over by an administrator: 3 groups of 4, about 59 bits."""
    return "-".join("".join(secrets.choice(_TEMP_ALPHABET) for _ in range(4)) for _ in range(3))


def validate_new_user(username: str, full_name: str, role: str) -> Role:
    if not USERNAME_RE.fullmatch(username):
        raise ValidationError(Msg.USER_NAME_INVALID)
    if not full_name.strip():
        raise ValidationError(Msg.FULL_NAME_REQUIRED)
    check_name(full_name, FULL_NAME, max_chars=MAX_FULL_NAME)
    try:
        return Role(role)
    except ValueError:
        raise ValidationError(Msg.ROLE_INVALID, choices=", ".join(r.value for r in Role)) from None


def password_checks(password: str, username: str | None = None, again: str | None = None) -> list[tuple[L, bool]]:
    """The password rules, each with whether ``password`` meets it, to show while it is typed (the same rules
    ``check_password_policy`` enforces; the service checks again)."""
    normalized = unicodedata.normalize("NFC", password)
    long_enough = MIN_PASSWORD_LENGTH <= len(normalized) <= MAX_PASSWORD_LENGTH
    no_name = not (username and len(username) >= 3 and username.lower() in normalized.lower())
    score, advice = password_feedback(normalized, username) if normalized else (0, L("", ""))
    strong = score >= MIN_STRENGTH
    out = [(L(f"At least {MIN_PASSWORD_LENGTH} characters", f"Au moins {MIN_PASSWORD_LENGTH} caractères"),
            long_enough),
           (L("Does not contain your user name", "Ne contient pas votre nom d'utilisateur"),
            bool(normalized) and no_name),
           (L("Hard to guess" + ("" if strong or not normalized else f" ({advice.en})"),
              "Difficile à deviner" + ("" if strong or not normalized else f" ({advice.fr})")), strong)]
    if again is not None:
        out.append((L("Typed twice the same", "Saisi deux fois à l'identique"), bool(password) and password == again))
    return out
