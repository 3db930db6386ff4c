"""Sliding-window rate limits per key: in memory (one process) or in Redis (shared by all servers)."""

from __future__ import annotations

import math
import time
import uuid
from collections import deque
from typing import Any, Protocol

# ZSET of request times in ms: drop the ones outside the window, then admit
# the request if the window has room. Returns 0 when admitted, else the ms
# until the oldest request leaves the window.
_REDIS_SCRIPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


class RateLimiter(Protocol):
    async def acquire(self, key: str) -> float:
        """Count one request; return 0 when allowed, else the seconds to wait."""
        ...


class MemoryRateLimiter:
    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}

    async def acquire(self, key: str) -> float:
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) < self.limit:
            hits.append(now)
            return 0.0
        return max(0.001, hits[0] + self.window_s - now)


class RedisRateLimiter:
    def __init__(self, redis: Any, limit: int, window_s: float = 60.0, prefix: str = "codearena:ratelimit") -> None:
        self.limit = limit
        self.window_ms = int(window_s * 1000)
        self.prefix = prefix
        self._script = redis.register_script(_REDIS_SCRIPT)

    async def acquire(self, key: str) -> float:
        now_ms = int(time.time() * 1000)
        wait_ms = await self._script(
            keys=[f"{self.prefix}:{key}"],
            args=[now_ms, self.window_ms, self.limit, f"{now_ms}-{uuid.uuid4().hex[:8]}"],
        )
        return int(wait_ms) / 1000


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
