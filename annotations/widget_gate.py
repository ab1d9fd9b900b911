"""What every widget request needs before its view runs, in one cache round trip.

A widget request is counted against two fixed-window rate limits (per public key for
votes, and per client address for every request, whatever key it carries) and carries a public key that must be resolved to
its project. Both are on the hot path of every vote, so:

- the two counters and the widget configuration's generation token are read in one
  Redis pipeline (one round trip; with another cache backend, a few plain calls);
- with a shared cache (Redis), public keys with their projects are kept in this
  process's memory, tagged with the generation token that was current when they were
  read from the database. Saving or deleting any project or project key replaces the
  token once the transaction commits, so a revoked key or a changed list of origins
  takes effect on the next request in every process, not after some expiry. With a
  cache of one process (the embedded default) keys are read from the database.
"""

import dataclasses
import secrets
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from annotations.keys import PUBLIC_PREFIX, key_hash
from annotations.models import Project, ProjectKey

KEY_HEADER = "HTTP_X_PROJECT_KEY"
GENERATION_KEY = "widget:generation"
# Entries are dropped after this long even when the token did not change, and the
# whole memory is cleared past this many keys.
KEY_MEMORY_SECONDS = 300
KEY_MEMORY_SIZE = 10_000

_keys: dict[str, tuple[bytes, float, ProjectKey]] = {}
_keys_lock = threading.Lock()
_redis_clients: dict[Any, Any] = {}


@dataclasses.dataclass(frozen=True)
class WidgetHits:
    """This request's place in the rate-limit windows, and the configuration token."""

    key_count: int
    key_limit: int
    client_count: int
    client_limit: int
    retry_after: float
    generation: bytes | None

    @property
    def allowed(self) -> bool:
        return self.key_count <= self.key_limit and self.client_allowed

    @property
    def client_allowed(self) -> bool:
        return self.client_count <= self.client_limit


def _raw_key(request: HttpRequest) -> str:
    return request.META.get(KEY_HEADER, "").strip()


def widget_hits(request: HttpRequest) -> WidgetHits:
    """Count this request (once) and read the configuration token: one round trip."""
    if not hasattr(request, "_widget_hits"):
        hashed = key_hash(_raw_key(request))[:32]
        key_limit, key_window = SimpleRateThrottle.parse_rate(None, settings.WIDGET_RATE_PER_KEY)
        client_limit, client_window = SimpleRateThrottle.parse_rate(
            None, settings.WIDGET_RATE_PER_CLIENT
        )
        now = time.time()
        key_start = int(now // key_window * key_window)
        client_start = int(now // client_window * client_window)
        # The address alone: a client sending a different made-up key each time is
        # still one client (and each unknown key costs a database lookup).
        client_counter = (
            f"throttle:widget:client:{BaseThrottle().get_ident(request)}:{client_start}",
            client_window + 1,
        )
        if request.method == "GET":
            # Reading the configuration (once a page) does not spend the key's vote budget.
            key_count = 0
            client_count, generation = _count_and_read(client_counter)
        else:
            key_count, client_count, generation = _count_and_read(
                (f"throttle:widget:key:{hashed}:{key_start}", key_window + 1), client_counter
            )
        # When refused, the caller waits until the window that refused it is over.
        retry_after = max(
            key_start + key_window - now if key_count > key_limit else 0,
            client_start + client_window - now if client_count > client_limit else 0,
        )
        request._widget_hits = WidgetHits(
            key_count=key_count,
            key_limit=key_limit,
            client_count=client_count,
            client_limit=client_limit,
            retry_after=retry_after,
            generation=generation,
        )
    return request._widget_hits


# KEYS: the counters, then the generation token; ARGV: each counter's expiry in seconds.
# One command instead of a pipeline of five: the client packs and parses one reply.
_COUNT_AND_READ_LUA = """
local out = {}
for i = 1, #KEYS - 1 do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('EXPIRE', KEYS[i], ARGV[i]) end
  out[i] = count
end
out[#KEYS] = redis.call('GET', KEYS[#KEYS])
return out
"""
_scripts: dict[Any, Any] = {}


def _count_and_read(*counters: tuple[str, int]) -> tuple[Any, ...]:
    """INCR each (key, expiry) counter and GET the generation token."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        # Django's Redis backend stores integers as their digits, so INCR works on
        # them and the token reads back as str(token).encode().
        client = _redis_client(backend)
        script = _scripts.get(client)
        if script is None:
            script = _scripts[client] = client.register_script(_COUNT_AND_READ_LUA)
        keys = [backend.make_and_validate_key(name) for name, _ in counters]
        keys.append(backend.make_and_validate_key(GENERATION_KEY))
        results = script(keys=keys, args=[expiry for _, expiry in counters])
        # A missing token ends the reply early (Lua's nil).
        return (
            *results[: len(counters)],
            results[len(counters)] if len(results) > len(counters) else None,
        )
    counts = []
    for name, expiry in counters:
        backend.add(name, 0, timeout=expiry)
        counts.append(backend.incr(name))
    generation = backend.get(GENERATION_KEY)
    return (*counts, None if generation is None else str(generation).encode())


def _redis_client(backend: RedisCache) -> Any:
    """One client per process and cache location (a client is costly to build, and
    thread-safe: it takes connections from the backend's pool)."""
    location = tuple(backend._servers)
    client = _redis_clients.get(location)
    if client is None:
        client = _redis_clients[location] = backend._cache.get_client(write=True)
    return client


def public_key_for(request: HttpRequest) -> ProjectKey | None:
    """The active public key the request carries, with its project; None otherwise.

    The returned key and project are shared between requests: read them, never change them.
    """
    if not hasattr(request, "_widget_public_key"):
        raw_key = _raw_key(request)
        key = None
        if raw_key.startswith(PUBLIC_PREFIX):
            key = _remembered_key(key_hash(raw_key), widget_hits(request).generation)
        request._widget_public_key = key
    return request._widget_public_key


def _remembered_key(hashed: str, generation: bytes | None) -> ProjectKey | None:
    now = time.monotonic()
    remembered = _keys.get(hashed)
    shared = not isinstance(caches[DEFAULT_CACHE_ALIAS], (LocMemCache, DummyCache))
    if (
        shared
        and generation is not None
        and remembered is not None
        and remembered[0] == generation
        and now - remembered[1] < KEY_MEMORY_SECONDS
    ):
        return remembered[2]
    key = (
        ProjectKey.objects.select_related("project")
        .filter(key_hash=hashed, kind=ProjectKey.Kind.PUBLIC, revoked_at__isnull=True)
        .first()
    )
    if not shared:
        # A cache of this process alone cannot tell other processes of a change.
        return key
    if generation is None:
        # No token yet (a fresh or flushed cache): start one, unless another process
        # just did, in which case remember nothing this time.
        token = _new_token()
        if not cache.add(GENERATION_KEY, token, timeout=None):
            return key
        generation = str(token).encode()
    if key is not None:
        with _keys_lock:
            if len(_keys) >= KEY_MEMORY_SIZE:
                _keys.clear()
            _keys[hashed] = (generation, now, key)
    return key


def widget_configuration_changed() -> None:
    """Make every process read keys and projects again once this transaction commits."""
    transaction.on_commit(lambda: cache.set(GENERATION_KEY, _new_token(), timeout=None))


def _new_token() -> int:
    # An integer: Django's Redis backend stores it as its digits, which the pipeline
    # reads back as the same bytes as str(token).encode().
    return secrets.randbits(62)


@receiver(post_save, sender=Project, dispatch_uid="widget-project-saved")
@receiver(post_delete, sender=Project, dispatch_uid="widget-project-deleted")
@receiver(post_save, sender=ProjectKey, dispatch_uid="widget-key-saved")
@receiver(post_delete, sender=ProjectKey, dispatch_uid="widget-key-deleted")
def _configuration_saved(**kwargs: Any) -> None:
    widget_configuration_changed()
