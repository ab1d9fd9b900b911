"""Deterministic dataset splits by conversation: pure functions.

A conversation's split depends only on its id and the seed: the keyed BLAKE2b
hash of the id is read as a number in [0, 1) and placed on the cumulative
fractions. New data never moves an old conversation, and every message of a
conversation lands in the same split.
"""

import functools
import hashlib
import math
import re

from django.utils.translation import gettext as _

Fractions = list[tuple[str, float]]

SPLIT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
DEFAULT_SEED = "0"
_SCALE = float(2**64)


class SplitSpecError(ValueError):
    """A --split value that cannot be used; the message says why."""


def split_spec_parse(spec: str) -> Fractions:
    """`train=0.8,validation=0.1,test=0.1` as [("train", 0.8), ...].

    Names are unique identifiers, every fraction is above 0, and they add up to 1.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise SplitSpecError(_("give splits as name=fraction pairs, e.g. train=0.8,test=0.2"))
    fractions: Fractions = []
    for part in spec.split(","):
        name, equals, raw_fraction = part.strip().partition("=")
        name = name.strip()
        if not equals:
            raise SplitSpecError(_("“%(part)s” is not name=fraction") % {"part": part.strip()})
        if not SPLIT_NAME.match(name):
            raise SplitSpecError(
                _(
                    "“%(name)s” is not a split name (letters, digits, _ and -, starting with a letter)"
                )
                % {"name": name}
            )
        if any(existing == name for existing, _ in fractions):
            raise SplitSpecError(_("split “%(name)s” is named twice") % {"name": name})
        try:
            fraction = float(raw_fraction)
        except ValueError:
            raise SplitSpecError(
                _("“%(value)s” is not a number") % {"value": raw_fraction.strip()}
            ) from None
        if not math.isfinite(fraction) or not 0 < fraction <= 1:
            raise SplitSpecError(
                _("the fraction of “%(name)s” must be above 0 and at most 1") % {"name": name}
            )
        fractions.append((name, fraction))
    total = sum(fraction for _, fraction in fractions)
    if abs(total - 1) > 1e-6:
        raise SplitSpecError(
            _("the fractions add up to %(total)s, not 1") % {"total": f"{total:g}"}
        )
    return fractions


def split_spec_format(fractions: Fractions) -> str:
    return ",".join(f"{name}={fraction:g}" for name, fraction in fractions)


@functools.lru_cache(maxsize=16)
def _seed_key(seed: str) -> bytes:
    return hashlib.blake2b(seed.encode(), digest_size=32).digest()


def split_point(conversation_id: str, seed: str) -> float:
    """The conversation's place in [0, 1) for this seed."""
    key = _seed_key(str(seed))
    digest = hashlib.blake2b(conversation_id.encode(), key=key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def split_for(conversation_id: str, seed: str, fractions: Fractions) -> str:
    """The name of the split that the conversation belongs to."""
    point = split_point(conversation_id, seed)
    upper = 0.0
    for name, fraction in fractions:
        upper += fraction
        if point < upper:
            return name
    # Rounding can leave the total a hair under 1: the last split takes the rest.
    return fractions[-1][0]
