"""PII redaction: a table of tricky cases and properties over generated text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exports.redaction import luhn_valid, redact_pii, rrn_checksum_valid

REDACTED = [
    # Korean mobile numbers in their common spellings.
    ("010-1234-5678", "[PHONE]"),
    ("01012345678", "[PHONE]"),
    ("010 1234 5678", "[PHONE]"),
    ("010.1234.5678", "[PHONE]"),
    ("011-123-4567", "[PHONE]"),
    ("+82 10-1234-5678", "[PHONE]"),
    ("+82-10-1234-5678", "[PHONE]"),
    ("+821012345678", "[PHONE]"),
    ("+82 (0)10 1234 5678", "[PHONE]"),
    ("(+82 10-1234-5678)", "([PHONE])"),
    # Landlines and international numbers.
    ("02-123-4567", "[PHONE]"),
    ("02-1234-5678", "[PHONE]"),
    ("(02) 123-4567", "[PHONE]"),
    ("031-123-4567", "[PHONE]"),
    ("070-1234-5678", "[PHONE]"),
    ("+82 2-123-4567", "[PHONE]"),
    ("+1 (415) 555-2671", "[PHONE]"),
    ("+44 20 7946 0958", "[PHONE]"),
    ("+33 1 23 45 67 89", "[PHONE]"),
    ("+7 495 123-45-67", "[PHONE]"),
    # Unseparated landlines (10-11 digits), 050X safe numbers and a bracketed +82.
    ("0212345678", "[PHONE]"),
    ("0311234567", "[PHONE]"),
    ("03112345678", "[PHONE]"),
    ("전화0212345678로", "전화[PHONE]로"),
    ("0505-123-4567", "[PHONE]"),
    ("(+82) 10-1234-5678", "[PHONE]"),
    ("연락처 (+82) 10-1234-5678 입니다", "연락처 [PHONE] 입니다"),
    # Korean spellings with brackets and spaced hyphens.
    ("(010) 1234-5678", "[PHONE]"),
    ("02)123-4567", "[PHONE]"),
    ("010 - 1234 - 5678", "[PHONE]"),
    ("연락처 (02)1234-5678 로", "연락처 [PHONE] 로"),
    # Korean text glued to the number, and full-width digits.
    ("연락처010-1234-5678로 연락 주세요", "연락처[PHONE]로 연락 주세요"),
    ("전화는01012345678입니다", "전화는[PHONE]입니다"),
    ("전화：０１０－１２３４－５６７８입니다", "전화：[PHONE]입니다"),
    ("번호 ０２－１２３－４５６７", "번호 [PHONE]"),
    # E-mail.
    ("메일은 kim.min-su+help@example.co.kr 입니다", "메일은 [EMAIL] 입니다"),
    ("메일은kim@naver.com으로 보내세요", "메일은[EMAIL]으로 보내세요"),
    ("ＫＩＭ＠ＥＸＡＭＰＬＥ．ＣＯＭ", "[EMAIL]"),
    ("kim.minsu@example.co.kr", "[EMAIL]"),
    ("dev+test@gmail.com", "[EMAIL]"),
    ("홍길동님 이메일은 hong@naver.com입니다", "홍길동님 이메일은 [EMAIL]입니다"),
    ("연락처 hong@naver.com(개인)", "연락처 [EMAIL](개인)"),
    ("super@naver.com", "[EMAIL]"),
    # Resident registration numbers, with and without the hyphen.
    ("주민등록번호 900101-1234567", "주민등록번호 [RRN]"),
    ("주민번호는9001012234567이에요", "주민번호는[RRN]이에요"),
    ("０１０２０３－４１２３４５６", "[RRN]"),
    ("주민등록번호: 900101 - 1234567", "주민등록번호: [RRN]"),
    # Without a hyphen: a valid checksum, or a word naming the number (numbers issued
    # since October 2020 need not pass the checksum).
    ("9001011234568", "[RRN]"),
    ("RRN: 2101014123456", "RRN: [RRN]"),
    ("resident registration number 2101014123456", "resident registration number [RRN]"),
    # Card numbers that pass the Luhn check.
    ("카드 4111 1111 1111 1111", "카드 [CARD]"),
    ("4111-1111-1111-1111", "[CARD]"),
    ("카드번호4111111111111111로 결제", "카드번호[CARD]로 결제"),
    ("amex 3782 822463 10005", "amex [CARD]"),
    ("discover 6011 1111 1111 1117", "discover [CARD]"),
    ("jcb 3530111333300000", "jcb [CARD]"),
    ("mastercard 2221 0000 0000 0009", "mastercard [CARD]"),
    # IP addresses.
    ("서버 192.168.0.1에 접속", "서버 [IP]에 접속"),
    ("from 10.0.0.254:8080", "from [IP]:8080"),
    ("knowledge 10.0.0.1 and a hedge 10.1.2.3", "knowledge [IP] and a hedge [IP]"),
    ("admin@this.org", "[EMAIL]"),
    ("fe80::1ff:fe23:4567:890a", "[IP]"),
    ("2001:db8::1", "[IP]"),
    ("fe80::1", "[IP]"),
    ("::1", "[IP]"),
    ("http://[::1]:8000", "http://[[IP]]:8000"),
    # Keys and bearer tokens.
    ("OPENAI_API_KEY=sk-proj-abcdefghijklmnop1234", "OPENAI_API_KEY=[SECRET]"),
    ("키는sk-ant-api03-abcdefghijklmnopqrstuv입니다", "키는[SECRET]입니다"),
    ("Authorization: Bearer abc123def456ghi789", "Authorization: Bearer [SECRET]"),
    ("bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijk", "bearer [SECRET]"),
    ("sk_live_0123456789abcdefghij", "[SECRET]"),
    ("SLACK_TOKEN=xoxb-1234567890-abcdefGHIJ", "SLACK_TOKEN=[SECRET]"),
    ("key=AIzaSyA1234567890abcdefghijklmnopqrstuv", "key=[SECRET]"),
    ("glpat-abcdefghij0123456789 로 인증", "[SECRET] 로 인증"),
    ("HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "HF_TOKEN=[SECRET]"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "[SECRET]"),
    (
        "//registry.npmjs.org/:_authToken=npm_abcdefghijklmnopqrstuvwxyz0123456789",
        "//registry.npmjs.org/:_authToken=[SECRET]",
    ),
    (
        "키 파일:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq9\nabc+/=\n"
        "-----END RSA PRIVATE KEY-----\n끝",
        "키 파일:\n[SECRET]\n끝",
    ),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA", "[SECRET]"),
    (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nThanks for the help",
        "[SECRET]\nThanks for the help",
    ),
    (
        '{"key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADAN\\n-----END PRIVATE KEY-----\\n"}',
        '{"key": "[SECRET]\\n"}',
    ),
    # Several in one text.
    (
        "김민수 (010-9876-5432, minsu@corp.kr) 카드 5555555555554444",
        "김민수 ([PHONE], [EMAIL]) 카드 [CARD]",
    ),
]

KEPT = [
    "2024-01-15",
    "2024.01.15",
    "20240115",
    "2024년 1월 15일 오후 3시",
    "12:30:45",
    "2019-2023",
    "v1.2.3",
    "v1.2.3.4",
    "Python 3.11.4",
    "Django 5.2",
    "₩12,000",
    "1,234,567원",
    "$1,299.99",
    "가격은 39,900원입니다",
    "주문 3건",
    "order #1234567",
    "3.14159",
    "ISBN 978-3-16-148410-0",
    # 16 digits that fail the Luhn check are not a card.
    "4111111111111112",
    "1234567890123",
    # Not a calendar date, so not a resident registration number.
    "991332-1234567",
    "010",
    "02-12-2024",
    "std::vector<int>",
    "task-force",
    "bearer bonds",
    "from huggingface_hub import hf_hub_download",
    "xoxo, see you",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "npm_config_registry=https://registry.npmjs.org/",
    "asking about skiing",
    "user@",
    "@mention",
    # Four-part versions after a version word.
    "release 4.2.1.0 is out",
    "Chrome 1.0.0.0",
    "버전 2.0.0.1 배포",
    "Windows 10.0.19045.3693",
    "4.7.2.0 버전",
    "패치 1.2.3.4 적용",
    "1.2.3.4 version",
    # Luhn-valid numbers that no card network issues (first digits, length).
    "order no. 1234567890128",
    "Date.now() returned 1732600000001",
    "tracking 8000000000000011",
    "invoice 7000123456789010",
    # Thirteen digits without a hyphen that fail the resident registration checksum:
    # millisecond timestamps and Korean EAN-13 barcodes.
    '{"ts": 1704198583004}',
    "EAN 8801234567893",
    "8801234567893",
    # Fractions whose digits start like a phone number.
    "lr=0.01093745621",
    "loss 3.0212345678",
    # "+" numbers without an assigned country code.
    "+10 20 30 40",
    "점수 +100 200 300",
    # Code.
    "y = x@self.weights",
    "out = h@cls.proj",
    "q@k.transpose(-2, -1)",
    "this@MainActivity.finish()",
    "val context = this@MainActivity.applicationContext",
    "return@forEach",
    "background: url(logo@2x.png)",
    "icon@3x.png",
    "evens = arr[::2]",
    "s[::3]",
    "x[:, ::3]",
    "x = np.arange(10)[1::2]",
]


@pytest.mark.parametrize(("text", "expected"), REDACTED)
def test_redacts_each_kind_of_pii(text, expected):
    assert redact_pii(text) == expected


@pytest.mark.parametrize("text", KEPT)
def test_keeps_ordinary_numbers(text):
    assert redact_pii(text) == text


def test_luhn():
    assert luhn_valid("4111111111111111")
    assert luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")


def test_rrn_checksum():
    assert rrn_checksum_valid("9001011234568")
    assert not rrn_checksum_valid("9001011234567")
    assert not rrn_checksum_valid("1704198583004")


KOREAN = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
WORDS = st.text(
    alphabet=st.one_of(KOREAN, st.sampled_from("abcdefghij XYZ.,!?()-:/\n")), max_size=40
)
DIGIT_FREE = st.text(
    alphabet=st.characters(blacklist_categories=("Nd", "No", "Cs"), blacklist_characters="@＠"),
    max_size=200,
)


@st.composite
def mobile_numbers(draw: st.DrawFn) -> str:
    middle = draw(st.integers(0, 9999))
    last = draw(st.integers(0, 9999))
    separator = draw(st.sampled_from(["-", " ", "", "."]))
    prefix = draw(st.sampled_from(["010", "+82 10", "+82-10"]))
    return f"{prefix}{separator}{middle:04d}{separator}{last:04d}"


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    body = [draw(st.integers(0, 9)) for _ in range(15)]
    body[0] = draw(st.sampled_from([4, 5]))
    for check in range(10):
        digits = "".join(map(str, body)) + str(check)
        if luhn_valid(digits) and len(set(digits)) > 1:
            break
    separator = draw(st.sampled_from(["", " ", "-"]))
    return separator.join(digits[index : index + 4] for index in range(0, 16, 4))


@st.composite
def ordinary_numbers(draw: st.DrawFn) -> str:
    year = draw(st.integers(1990, 2030))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28))
    return draw(
        st.sampled_from(
            [
                f"{year}-{month:02d}-{day:02d}",
                f"{year}.{month:02d}.{day:02d}",
                f"{year}년 {month}월 {day}일",
                f"v{month}.{day}.{draw(st.integers(0, 99))}",
                f"{draw(st.integers(1, 999))},{draw(st.integers(0, 999)):03d}원",
                f"${draw(st.integers(1, 9999))}.{draw(st.integers(0, 99)):02d}",
                f"주문 {draw(st.integers(1, 99999))}건",
            ]
        )
    )


ANY_TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(
        st.one_of(WORDS, mobile_numbers(), card_numbers(), ordinary_numbers()), max_size=6
    ).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_redaction_is_idempotent(text):
    once = redact_pii(text)
    assert redact_pii(once) == once


@settings(max_examples=300, deadline=None)
@given(DIGIT_FREE)
def test_digit_free_text_without_at_signs_is_kept(text):
    # Keys (sk-..., ghp_...) without any digit are the only digit-free PII; excluded here.
    if "sk-" in text or "sk_" in text:
        return
    assert redact_pii(text) == text


@settings(max_examples=200, deadline=None)
@given(WORDS, ordinary_numbers(), WORDS)
def test_dates_versions_prices_and_counts_are_kept(before, number, after):
    text = f"{before} {number} {after}"
    assert redact_pii(text) == text


@settings(max_examples=200, deadline=None)
@given(WORDS, mobile_numbers(), WORDS)
def test_phone_numbers_glued_to_text_are_replaced(before, phone, after):
    redacted = redact_pii(f"{before}{phone}{after}")
    assert "[PHONE]" in redacted
    assert phone not in redacted


@settings(max_examples=200, deadline=None)
@given(WORDS, card_numbers(), WORDS)
def test_card_numbers_are_replaced(before, card, after):
    redacted = redact_pii(f"{before} {card} {after}")
    assert "[CARD]" in redacted
    assert card not in redacted


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_redaction_never_lengthens_digit_free_text(text):
    if any(char.isdigit() for char in text) or "@" in text:
        return
    assert len(redact_pii(text)) <= len(text) or "sk" in text.lower()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 999), st.integers(2, 999))
def test_python_slices_are_kept(start, step):
    for text in (f"arr[::{step}]", f"arr[{start}::{step}]", f"x[:, ::{step}]"):
        assert redact_pii(text) == text


def test_phone_after_double_colon_is_a_phone_not_an_ipv6_address():
    assert redact_pii("::010-0000-0000") == "::[PHONE]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("010-0000-0000::1", "[PHONE]::1"),
        ("RRN +82 10-0000-0000: 1704198583004", "RRN [PHONE]: 1704198583004"),
    ],
)
def test_placeholders_do_not_change_a_second_pass(text, expected):
    assert redact_pii(text) == expected
    assert redact_pii(expected) == expected


def test_json_text_is_redacted_value_by_value_and_stays_json():
    import json

    from exports.redaction import redact_pii_json

    # Hangul escaped as \uXXXX must not hide the phone number glued to it.
    escaped = json.dumps({"q": "연락처010-1234-5678"})
    assert "\\uc5f0" in escaped
    assert json.loads(redact_pii_json(escaped)) == {"q": "연락처[PHONE]"}
    # A number that is a card becomes its placeholder as a string: still JSON.
    assert json.loads(redact_pii_json('{"card": 4111111111111111, "n": 3}')) == {
        "card": "[CARD]",
        "n": 3,
    }
    unchanged = '{"q":  "retry"}'
    assert redact_pii_json(unchanged) == unchanged
    assert redact_pii_json("call 010-1234-5678") == "call [PHONE]"
    deep = "[" * 5000 + "1" + "]" * 5000
    assert redact_pii_json(deep) == deep


def test_json_keys_and_repeated_keys_are_redacted_too():
    from exports.redaction import redact_pii_json

    assert (
        redact_pii_json('{"alice@example.com": "x", "phone": 1}') == '{"[EMAIL]": "x", "phone": 1}'
    )
    # Parsing keeps only the last of two equal keys: the first value must not slip out.
    assert "alice" not in redact_pii_json('{"to": "alice@example.com", "to": "bob"}')
    assert "bob@x.io" not in redact_pii_json('{"q": "010-1234-5678", "bob@x.io": 2}')
