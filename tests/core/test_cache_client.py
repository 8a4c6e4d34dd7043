"""The cache's `redis.Redis` is built once per connection pool and kept (#9: Django's RedisCache built one
for every call, about 100 µs of each cache read or write, two of them in every throttled request)."""

import pytest
import redis
from django.core.cache import caches

from core.cache import FailOpenRedisCache


def test_the_cache_keeps_its_redis_client_across_calls(monkeypatch):
    cache = caches["default"]
    if not isinstance(cache, FailOpenRedisCache):
        pytest.skip("the suite's cache is Redis only with REDIS_URL set")
    cache.set("client-warm", 0)  # the first call builds the client
    built = []
    build = redis.Redis.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        build(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting)
    for i in range(20):
        cache.set(f"client-{i}", i)
        assert cache.get(f"client-{i}") == i
    assert cache.add("client-0", "taken") is False and cache.incr("client-1") == 2
    cache.delete_many([f"client-{i}" for i in range(20)] + ["client-warm"])
    assert built == [], f"{len(built)} clients built for 43 calls"
