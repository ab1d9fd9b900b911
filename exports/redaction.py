"""PII redaction for exported text: a pure function over one string.

Each kind of personal data is replaced by a typed placeholder ([EMAIL], [PHONE],
[RRN], [CARD], [IP], [SECRET]). Matching runs on a copy of the text in which
full-width digits, letters and punctuation are folded to ASCII one character for
one character, so positions in the copy are positions in the original and the
original is edited in place. Digit runs are delimited by lookarounds, not by \\b:
Hangul counts as a word character, and "연락처010-1234-5678로" must still match.

What is left alone on purpose: dates (2024-01-15, 2024.01.15, 20240115), versions
(v1.2.3, 3.11.4), prices (₩12,000, $1,299.99), counts and order numbers shorter
than a card, and digit groups that fail the checks (Luhn, calendar date, digit count).
"""

import re
from collections.abc import Callable

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
RRN = "[RRN]"
CARD = "[CARD]"
IP = "[IP]"
SECRET = "[SECRET]"  # noqa: S105 - a placeholder, not a secret

# Full-width forms (U+FF01..U+FF5E) map to ASCII (U+0021..U+007E); dashes and
# unusual spaces map to "-" and " ". Every mapping is one character to one.
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FOLD.update({ord(dash): "-" for dash in "‐‑‒–—―−"})
_FOLD.update({ord(space): " " for space in "\u3000\u00a0\u2007\u202f"})

_NO_DIGIT_BEFORE = r"(?<![0-9])"
_NO_DIGIT_AFTER = r"(?![0-9])"
_SEP = r"[-. ]"

_SECRET_PATTERNS = [
    # JSON Web Tokens.
    re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    # OpenAI / Anthropic style keys (sk-..., sk-proj-..., sk-ant-...) and this site's sk_ keys.
    re.compile(r"(?<![A-Za-z0-9_-])sk[-_][A-Za-z0-9_-]{16,}"),
    # GitHub and AWS access keys.
    re.compile(r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{30,}"),
    re.compile(r"(?<![A-Za-z0-9])AKIA[0-9A-Z]{16}(?![A-Za-z0-9])"),
]
# The token after "Bearer": long and holding a digit, so that "bearer bonds" stays.
_BEARER = re.compile(
    r"(?i)(?<![A-Za-z])(bearer\s+)(?=[A-Za-z0-9._~+/=-]*[0-9])([A-Za-z0-9._~+/=-]{12,})"
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![A-Za-z])"
)
# YYMMDD, an optional hyphen, then seven digits of which the first is 1-8
# (sex and century; 5-8 for foreign residents).
_RRN = re.compile(
    _NO_DIGIT_BEFORE
    + r"(?P<date>[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]))[- ]?[1-8][0-9]{6}"
    + _NO_DIGIT_AFTER
)
_CARD = re.compile(
    _NO_DIGIT_BEFORE
    + r"(?:[0-9]{4}(?P<sep>[- ]?)[0-9]{4}(?P=sep)[0-9]{4}(?P=sep)[0-9]{1,7}"
    + r"|[0-9]{4}(?P<amex>[- ]?)[0-9]{6}(?P=amex)[0-9]{5}"
    + r"|[0-9]{13,19})"
    + _NO_DIGIT_AFTER
)
_KOREAN_AREA = r"(?:2|[3-6][1-5]|[78]0)"
_PHONE_PATTERNS = [
    # International, including +82: a plus, a country code, then groups; 8-15 digits.
    # Not right after a digit or a placeholder ("[PHONE]+1..." was one number).
    re.compile(
        r"(?<![0-9+\]])\+[1-9][0-9]{0,2}(?:[-. ]?(?:\([0-9]{1,4}\)|[0-9]{1,4})){2,6}"
        # Nor cut short before " [PHONE]" that was the rest of one over-long number.
        r"(?![0-9]|[-. ](?:[0-9]|\[(?:PHONE|CARD|RRN|IP|EMAIL|SECRET)\]))"
    ),
    # Korean mobile: 010-1234-5678, 010 1234 5678, 010.1234.5678, 01012345678.
    re.compile(
        _NO_DIGIT_BEFORE + rf"01[016789]{_SEP}?[0-9]{{3,4}}{_SEP}?[0-9]{{4}}" + _NO_DIGIT_AFTER
    ),
    # Korean landline and 070/080, separated: 02-123-4567, (02) 123-4567, 031 123 4567.
    re.compile(
        _NO_DIGIT_BEFORE
        + rf"(?:\(0{_KOREAN_AREA}\) ?|0{_KOREAN_AREA}{_SEP})[0-9]{{3,4}}{_SEP}[0-9]{{4}}"
        + _NO_DIGIT_AFTER
    ),
]
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
# Not after a letter ("v1.2.3.4" is a version) and not inside a longer dotted run.
_IPV4 = re.compile(rf"(?<![A-Za-z0-9.]){_OCTET}(?:\.{_OCTET}){{3}}(?![0-9]|\.[0-9])")
_HEX = r"[0-9A-Fa-f]{1,4}"
_IPV6 = re.compile(
    r"(?<![0-9A-Za-z:])(?:"
    rf"(?:{_HEX}:){{7}}{_HEX}"
    rf"|(?:{_HEX}:){{1,6}}:(?:{_HEX}(?::{_HEX}){{0,5}})?"
    rf"|::(?:{_HEX}(?::{_HEX}){{0,6}})"
    # Not glued to a following "-digits" run: "::010-1234-5678" is a phone number.
    r")(?![0-9A-Za-z:]|-[0-9])"
)


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card_ok(match: re.Match[str]) -> bool:
    digits = _digits(match.group(0))
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_valid(digits)


def _phone_ok(match: re.Match[str]) -> bool:
    text = match.group(0)
    if text.startswith("+"):
        return 8 <= len(_digits(text)) <= 15
    return True


def _ipv6_ok(match: re.Match[str]) -> bool:
    # "12:30::" or "a::b" in code are not addresses: ask for a digit and three groups.
    text = match.group(0)
    groups = [group for group in text.split(":") if group]
    return any(char.isdigit() for char in text) and (len(groups) >= 3 or text.startswith("::"))


def _always(match: re.Match[str]) -> bool:
    return True


# (pattern, placeholder, check) in the order they run; earlier kinds win overlaps.
_RULES: list[tuple[re.Pattern[str], str, Callable[[re.Match[str]], bool]]] = [
    *[(pattern, SECRET, _always) for pattern in _SECRET_PATTERNS],
    (_EMAIL, EMAIL, _always),
    (_RRN, RRN, _always),
    (_CARD, CARD, _card_ok),
    (_IPV4, IP, _always),
    (_IPV6, IP, _ipv6_ok),
    *[(pattern, PHONE, _phone_ok) for pattern in _PHONE_PATTERNS],
]


def _replace(
    text: str,
    pattern: re.Pattern[str],
    placeholder: str,
    check: Callable[[re.Match[str]], bool],
    group: int = 0,
) -> str:
    folded = text.translate(_FOLD)
    pieces: list[str] = []
    last = 0
    for match in pattern.finditer(folded):
        if not check(match):
            continue
        start, end = match.span(group)
        pieces.append(text[last:start])
        pieces.append(placeholder)
        last = end
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def _may_hold_pii(text: str) -> bool:
    # Every rule needs a digit, an "@" or one of the key prefixes; most text has none.
    folded = text.translate(_FOLD)
    if "@" in folded or any(char.isdigit() for char in folded):
        return True
    lowered = folded.lower()
    return any(prefix in lowered for prefix in ("sk", "gh", "eyj", "akia"))


def redact_pii(text: str) -> str:
    """The text with e-mail addresses, phone numbers, resident registration numbers,
    card numbers, IP addresses and API keys replaced by typed placeholders."""
    if not text or not _may_hold_pii(text):
        return text
    text = _replace(text, _BEARER, SECRET, _always, group=2)
    for pattern, placeholder, check in _RULES:
        text = _replace(text, pattern, placeholder, check)
    return text
