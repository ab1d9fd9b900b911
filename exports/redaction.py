"""PII redaction for exported text: a pure function over one string.

Each kind of personal data is replaced by a typed placeholder ([EMAIL], [PHONE],
[RRN], [CARD], [IP], [SECRET]: API keys and tokens of the usual shapes, bearer
tokens, private key blocks). Matching runs on a copy of the text in which
full-width digits, letters and punctuation are folded to ASCII one character for
one character, so positions in the copy are positions in the original and the
original is edited in place. Digit runs are delimited by lookarounds, not by \\b:
Hangul counts as a word character, and "연락처010-1234-5678로" must still match.

What is left alone on purpose: dates (2024-01-15, 2024.01.15, 20240115), versions
(v1.2.3, 3.11.4, "release 4.2.1.0", "4.7.2.0 버전"), prices (₩12,000, $1,299.99),
counts, order numbers and timestamps that do not look like a card of some network (its
first digits and length) or fail the Luhn check, 13-digit numbers without a hyphen that
fail the resident registration checksum and have no "주민"/"RRN" word before them
(millisecond timestamps, 880... barcodes), "+" numbers without an assigned country
code, digit groups that fail the other checks (calendar date, digit count), and code
that looks like an address: slices (arr[::2]), Kotlin labels (this@MainActivity),
image densities (icon@2x.png) and matrix products (q@k.transpose(...)).
"""

import json
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
# Korean numbers are also written with spaces around the hyphens: 010 - 1234 - 5678.
_SEP_KO = r"(?: ?- ?|[. ])"

_SECRET_PATTERNS = [
    # JSON Web Tokens.
    re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    # OpenAI / Anthropic style keys (sk-..., sk-proj-..., sk-ant-...) and this site's sk_ keys.
    re.compile(r"(?<![A-Za-z0-9_-])sk[-_][A-Za-z0-9_-]{16,}"),
    # GitHub (classic and fine-grained) and AWS access keys.
    re.compile(r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{30,}"),
    re.compile(r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,}"),
    re.compile(r"(?<![A-Za-z0-9])AKIA[0-9A-Z]{16}(?![A-Za-z0-9])"),
    # Tokens developers paste: Slack, Google API keys, GitLab, Hugging Face, npm.
    re.compile(r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])"),
    re.compile(r"(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}"),
    re.compile(r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}(?![A-Za-z0-9_])"),
    re.compile(r"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"),
    # A private key block (PEM), whole, or when cut short its first line and the base64
    # lines after it; in JSON text its line breaks are written \n.
    re.compile(
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"
        r"(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|(?:(?:\s|\\n)+[A-Za-z0-9+/=]{16,})*)",
        re.DOTALL,
    ),
]
# The token after "Bearer": long and holding a digit, so that "bearer bonds" stays.
_BEARER = re.compile(
    r"(?i)(?<![A-Za-z])(bearer\s+)(?=[A-Za-z0-9._~+/=-]*[0-9])([A-Za-z0-9._~+/=-]{12,})"
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![A-Za-z])"
)
# YYMMDD, an optional hyphen (900101 - 1234567 too) or space, then seven digits of which
# the first is 1-8 (sex and century; 5-8 for foreign residents).
_RRN = re.compile(
    _NO_DIGIT_BEFORE
    + r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?P<sep> ?- ?| )?[1-8][0-9]{6}"
    + _NO_DIGIT_AFTER
)
# A word naming the number that ends at most 15 characters before it, with no
# placeholder in between. Placeholders are shorter than what they replace and hold
# "RRN", so counting them would make a second pass redact more than the first.
_RRN_KEYWORD = re.compile(
    r"(?i)(?:주민|(?<![a-z\[])rrn(?![a-z\]])"
    r"|(?<![a-z])resident(?:\s+registration)?(?:\s+(?:number|no))?)[^\n\[\]]{0,15}$"
)
_RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_CARD = re.compile(
    _NO_DIGIT_BEFORE
    + r"(?:[0-9]{4}(?P<sep>[- ]?)[0-9]{4}(?P=sep)[0-9]{4}(?P=sep)[0-9]{1,7}"
    + r"|[0-9]{4}(?P<amex>[- ]?)[0-9]{6}(?P=amex)[0-9]{5}"
    + r"|[0-9]{13,19})"
    + _NO_DIGIT_AFTER
)
# Area codes, 070/080, and 050X safe numbers (0505-123-4567).
_KOREAN_AREA = r"(?:2|[3-6][1-5]|[78]0|50[0-9])"
_PHONE_PATTERNS = [
    # International, including +82 and (+82): a plus, a country code, then groups;
    # 8-15 digits. Not right after a digit or a placeholder ("[PHONE]+1..." was one
    # number).
    re.compile(
        r"(?<![0-9+\]])(?:\(\+[1-9][0-9]{0,2}\)|\+[1-9][0-9]{0,2})"
        r"(?:[-. ]?(?:\([0-9]{1,4}\)|[0-9]{1,4})){2,6}"
        # Nor cut short before " [PHONE]" that was the rest of one over-long number.
        r"(?![0-9]|[-. ](?:[0-9]|\[(?:PHONE|CARD|RRN|IP|EMAIL|SECRET)\]))"
    ),
    # Korean mobile: 010-1234-5678, 010 1234 5678, 010.1234.5678, 01012345678,
    # (010) 1234-5678, 010 - 1234 - 5678.
    re.compile(
        _NO_DIGIT_BEFORE
        + rf"(?:\(01[016789]\) ?|01[016789]{_SEP_KO}?)[0-9]{{3,4}}{_SEP_KO}?[0-9]{{4}}"
        + _NO_DIGIT_AFTER
    ),
    # Korean landline, 070/080 and 050X, separated: 02-123-4567, (02) 123-4567,
    # 02)123-4567, 031 123 4567, 0505-123-4567.
    re.compile(
        _NO_DIGIT_BEFORE
        + rf"(?:\(?0{_KOREAN_AREA}\) ?|0{_KOREAN_AREA}{_SEP_KO})[0-9]{{3,4}}{_SEP_KO}[0-9]{{4}}"
        + _NO_DIGIT_AFTER
    ),
    # The same unseparated, 10 or 11 digits: 0212345678, 0311234567, 05051234567. Not
    # glued to Latin letters, where such a digit run is part of a hex hash or an id.
    re.compile(
        r"(?<![0-9A-Za-z_])0(?:2[0-9]{8}|(?:[3-6][1-5]|[78]0)[0-9]{7,8}|50[0-9][0-9]{7})"
        r"(?![0-9A-Za-z_])"
    ),
]
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
# Not after a letter ("v1.2.3.4" is a version) and not inside a longer dotted run.
_IPV4 = re.compile(rf"(?<![A-Za-z0-9.]){_OCTET}(?:\.{_OCTET}){{3}}(?![0-9]|\.[0-9])")
_HEX = r"[0-9A-Fa-f]{1,4}"
_IPV6 = re.compile(
    # Not right after a placeholder: "[PHONE]::1" was "010-0000-0000::1", one run.
    r"(?<![0-9A-Za-z:\]])(?:"
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


def card_network_length_ok(digits: str) -> bool:
    """Whether the number starts like a payment card of some network and has one of
    its lengths: Visa 4 (13, 16, 19 digits), Mastercard and Maestro 5 and 2 (16-19),
    American Express 34/37 (15), JCB, Diners and others in 3 (14-19), Discover,
    UnionPay and Maestro 6 (16-19), Korean domestic cards 9 (16). Numbers starting
    with 0, 1, 7 or 8 are not cards (order numbers, millisecond timestamps)."""
    length = len(digits)
    first, two = digits[:1], digits[:2]
    if first == "4":
        return length in (13, 16, 19)
    if two in ("34", "37"):
        return length == 15
    if first == "3":
        return two in ("30", "35", "36", "38", "39") and 14 <= length <= 19
    if first == "2":
        return "22" <= two <= "27" and 16 <= length <= 19
    if first in ("5", "6"):
        return 16 <= length <= 19
    if first == "9":
        return length == 16
    return False


def _card_ok(match: re.Match[str]) -> bool:
    digits = _digits(match.group(0))
    return card_network_length_ok(digits) and len(set(digits)) > 1 and luhn_valid(digits)


# ITU country codes: 1 and 7, these two-digit ones, and three-digit ones under these
# two-digit starts (28, 83 and 89 are unassigned; 10-19 are +1 and an area code).
_COUNTRY_CODES_2 = frozenset(
    [
        "20",
        "27",
        "30",
        "31",
        "32",
        "33",
        "34",
        "36",
        "39",
        "40",
        "41",
        "43",
        "44",
        "45",
        "46",
        "47",
        "48",
        "49",
        "51",
        "52",
        "53",
        "54",
        "55",
        "56",
        "57",
        "58",
        "60",
        "61",
        "62",
        "63",
        "64",
        "65",
        "66",
        "81",
        "82",
        "84",
        "86",
        "90",
        "91",
        "92",
        "93",
        "94",
        "95",
        "98",
    ]
)
_COUNTRY_CODES_3_START = frozenset(
    [
        "21",
        "22",
        "23",
        "24",
        "25",
        "26",
        "29",
        "35",
        "37",
        "38",
        "42",
        "50",
        "59",
        "67",
        "68",
        "69",
        "80",
        "85",
        "87",
        "88",
        "96",
        "97",
        "99",
    ]
)


def country_code_ok(digits: str) -> bool:
    """Whether the digits after "+" start with an assigned country code (and, for +1,
    an area code, which never starts with 0 or 1)."""
    if digits.startswith("1"):
        return len(digits) > 1 and digits[1] not in "01"
    return (
        digits.startswith("7")
        or digits[:2] in _COUNTRY_CODES_2
        or digits[:2] in _COUNTRY_CODES_3_START
    )


# "lr=0.01093745621", "3.0212345678": the digits of a fraction. Only a short whole part
# counts, so that a phone number redacted before the dot changes nothing.
_WHOLE_PART = re.compile(r"(?:^|[^0-9])[0-9]{1,3}\.$")


def _after_decimal_point(match: re.Match[str]) -> bool:
    return _WHOLE_PART.search(match.string[max(0, match.start() - 5) : match.start()]) is not None


def _phone_ok(match: re.Match[str]) -> bool:
    text = match.group(0)
    if text.lstrip("(").startswith("+"):
        digits = _digits(text)
        return 8 <= len(digits) <= 15 and country_code_ok(digits)
    return not (text.isdigit() and _after_decimal_point(match))


def rrn_checksum_valid(digits: str) -> bool:
    """The check digit of a resident registration number (13 digits). Numbers issued
    since October 2020 need not satisfy it."""
    total = sum(int(digit) * weight for digit, weight in zip(digits, _RRN_WEIGHTS, strict=False))
    return (11 - total % 11) % 10 == int(digits[12])


def _rrn_ok(match: re.Match[str]) -> bool:
    # Thirteen bare digits are as often a millisecond timestamp or an 880... barcode:
    # ask for the checksum, or for a word such as "주민번호" just before.
    if match.group("sep") is not None:
        return True
    start = match.start()
    return (
        rrn_checksum_valid(match.group(0))
        or _RRN_KEYWORD.search(match.string, max(0, start - 60), start) is not None
    )


# Four dotted numbers right after or right before one of these words are a version,
# not an address.
_VERSION_WORD = re.compile(
    r"(?i)(?<![a-z])(?:version|ver\.?|release[ds]?|build|patch|chrome|firefox|edge|safari|"
    r"windows|버전|버젼|릴리스|릴리즈|빌드|패치)\s*:?\s*$"
)
_VERSION_WORD_AFTER = re.compile(
    r"(?i)\s*(?:version|ver(?![a-z])|release|patch|버전|버젼|릴리스|릴리즈|패치)"
)


def _ipv4_ok(match: re.Match[str]) -> bool:
    before = _VERSION_WORD.search(match.string, max(0, match.start() - 20), match.start())
    return before is None and _VERSION_WORD_AFTER.match(match.string, match.end()) is None


# Kotlin qualified this/return/break/continue/super: "this@MainActivity.finish()".
_KOTLIN_LABELS = frozenset(["this", "return", "break", "continue", "super"])
# Image densities: "logo@2x.png", "icon@1.5x.webp".
_IMAGE_DENSITY = re.compile(
    r"(?i)[0-9]+(?:\.[0-9]+)?x\.(?:png|jpe?g|gif|webp|svg|avif|bmp|ico|tiff?|heic)"
)
# Top-level domains of more than two letters that addresses in this text use.
_COMMON_TLDS = frozenset(
    [
        "com",
        "net",
        "org",
        "edu",
        "gov",
        "mil",
        "int",
        "info",
        "biz",
        "name",
        "pro",
        "app",
        "dev",
        "xyz",
        "site",
        "online",
        "tech",
        "store",
        "shop",
        "blog",
        "cloud",
        "email",
        "mobi",
        "asia",
    ]
)


def _plausible_tld(label: str) -> bool:
    # Two letters are a country code, except "to", PyTorch's "x@w.to(device)".
    label = label.lower()
    return (len(label) == 2 and label != "to") or label in _COMMON_TLDS


def _email_ok(match: re.Match[str]) -> bool:
    local, _, domain = match.group(0).partition("@")
    tld = domain.rpartition(".")[2]
    # Matrix products on attributes ("x@self.weights") and method calls
    # ("q@k.transpose(-2, -1)"), whose last part is no top-level domain.
    if domain.split(".", 1)[0] in ("self", "cls"):
        return False
    if match.string.startswith("(", match.end()) and not _plausible_tld(tld):
        return False
    if _IMAGE_DENSITY.fullmatch(domain):
        return False
    # "this@MainActivity.lifecycleScope" is code; "super@naver.com" is an address.
    if local in _KOTLIN_LABELS:
        return domain.islower() and _plausible_tld(tld)
    return True


def _ipv6_ok(match: re.Match[str]) -> bool:
    # Slices ("arr[::2]", "x[1::2]", "s[a::2]") and "12:30::" or "a::b" in code are not
    # addresses: besides the loopback "::1", ask for a digit and three groups, or two
    # after a leading "::" or with one like "fe80" or "db8" (hex letters and digits).
    text = match.group(0)
    if text == "::1":
        return True
    groups = [group for group in text.split(":") if group]
    if not any(char.isdigit() for char in text):
        return False
    if len(groups) >= 3:
        return True
    return len(groups) == 2 and (text.startswith("::") or any(map(_hex_word, groups)))


def _hex_word(group: str) -> bool:
    return len(group) >= 3 and not group.isdigit() and any(char.isdigit() for char in group)


def _always(match: re.Match[str]) -> bool:
    return True


# (pattern, placeholder, check) in the order they run; earlier kinds win overlaps.
_RULES: list[tuple[re.Pattern[str], str, Callable[[re.Match[str]], bool]]] = [
    *[(pattern, SECRET, _always) for pattern in _SECRET_PATTERNS],
    (_EMAIL, EMAIL, _email_ok),
    (_RRN, RRN, _rrn_ok),
    (_CARD, CARD, _card_ok),
    (_IPV4, IP, _ipv4_ok),
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


# What a digit-free key starts with (_SECRET_PATTERNS), lowercase.
_KEY_PREFIXES = ("sk", "gh", "eyj", "akia", "xox", "aiza", "glpat", "hf_", "npm_", "private key")


def _may_hold_pii(text: str) -> bool:
    # Every rule needs a digit, an "@" or one of the key prefixes; most text has none.
    folded = text.translate(_FOLD)
    if "@" in folded or any(char.isdigit() for char in folded):
        return True
    lowered = folded.lower()
    return any(prefix in lowered for prefix in _KEY_PREFIXES)


def redact_pii(text: str) -> str:
    """The text with e-mail addresses, phone numbers, resident registration numbers,
    card numbers, IP addresses and API keys replaced by typed placeholders."""
    if not text or not _may_hold_pii(text):
        return text
    text = _replace(text, _BEARER, SECRET, _always, group=2)
    for pattern, placeholder, check in _RULES:
        text = _replace(text, pattern, placeholder, check)
    return text


def redact_pii_json(text: str) -> str:
    """redact_pii for text that may be JSON (tool call arguments, tool results): the
    strings and numbers inside are redacted one by one, and a number that holds PII
    becomes its placeholder as a string, so that the text stays valid JSON and escaped
    characters (\\uXXXX Hangul before a phone number) cannot hide what they spell. Text
    that is not JSON is redacted as text."""
    if not text or not _may_hold_pii(text) or text.lstrip()[:1] not in ("{", "["):
        return redact_pii(text)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return redact_pii(text)
    redacted = _redact_value(value)
    if redacted == value:
        # Nothing in the parsed values; the text itself may still hold what parsing
        # dropped (the first of two equal keys).
        return redact_pii(text)
    # A last pass over the text as written out catches what sits in keys.
    return redact_pii(json.dumps(redacted, ensure_ascii=False))


def _redact_value(value: object) -> object:
    if isinstance(value, str):
        return redact_pii(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        written = json.dumps(value)
        redacted = redact_pii(written)
        return value if redacted == written else redacted
    if isinstance(value, list):
        return [_redact_value(item) for item in value]
    if isinstance(value, dict):
        return {redact_pii(key): _redact_value(item) for key, item in value.items()}
    return value
