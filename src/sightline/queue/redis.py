"""The shared job queue on Redis Streams: one queue for many API and worker processes.

Keys, all under `{namespace}:` (`redis://host:port/db?namespace=sightline`):

    stream    a stream of `job=<id>` entries, read through the consumer group `workers`
    job:<id>  a hash: payload (JSON), state, attempts, token, entry, worker, error, updated
    delayed   a sorted set of queued jobs waiting for their retry, scored by due time (ms)
    dead      a sorted set of dead jobs, scored by when they died
    done      a sorted set of finished jobs, scored by when they finished; their hashes expire
              after DONE_RETENTION_SECONDS, so a late duplicate enqueue is still ignored
    epoch     a random id of this storage, made anew by whoever finds it missing

Why this shape:
- The consumer group is the lease clock. An entry read with XREADGROUP stays pending until it
  is acknowledged; XAUTOCLAIM hands it out again once it sat idle longer than the lease (its
  worker died), and `heartbeat` resets that idle time with XCLAIM ... JUSTID.
- The job hash is the authority: the lease token lives there, and `heartbeat`, `complete` and
  `retry` change nothing unless the token matches, so a worker that lost its lease cannot
  overwrite the outcome of the one that took over. Finishing a job acknowledges and deletes its
  entry, so every entry left in the stream is either pending (running) or not yet delivered.
- Every state change is one Lua script: atomic without WATCH/MULTI retries, and timed by the
  server's clock (TIME), since workers on several machines may not agree on the time.
- All workers read as one consumer of the group: ownership is the token in the hash, and named
  consumers would pile up in the group forever, one per worker process ever started.
- Nothing needs an operator after Redis lost its data: every script that writes to the stream
  first recreates it with its group when the key is missing, redis-py reconnects and reloads the
  scripts, and the changed `epoch` tells the outbox relay to dispatch unfinished work again.

Needs Redis 6.2 or later (XAUTOCLAIM). Scripts derive their keys from the namespace, so this runs
on a single Redis (or a primary with replicas), not on Redis Cluster.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sightline.errors import BackendError, ConfigurationError
from sightline.queue.base import DONE_RETENTION_SECONDS, DeadJob, Job, JobState, RetryPolicy

try:
    import redis
    from redis.backoff import ExponentialWithJitterBackoff
    from redis.retry import Retry
except ImportError as exc:  # the default install has no Redis client
    raise ConfigurationError(
        "The Redis queue needs the redis package: pip install 'sightline[scale]'"
    ) from exc

DEFAULT_NAMESPACE = "sightline"
# Nothing may hang: during an outage a call fails after three quick retries (about a second
# when connections are refused) and the worker loop logs it and polls again. The same retries
# replace the pool's dead connections after a restart, unseen by callers.
SOCKET_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 2.0
RETRIES = 3
# Job ids per script call when reading many states: one call must not hold Redis for long.
STATES_BATCH = 500

_PRELUDE = """
local ns = ARGV[1]
local stream, delayed, dead, done = ns .. ':stream', ns .. ':delayed', ns .. ':dead', ns .. ':done'
local group = 'workers'
local function job_key(id) return ns .. ':job:' .. id end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ensure_stream()
  if redis.call('EXISTS', stream) == 0 then
    redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
  end
end
local function push(id)
  redis.call('HSET', job_key(id), 'entry', redis.call('XADD', stream, '*', 'job', id))
end
local function drop_entry(entry)
  redis.call('XACK', stream, group, entry)
  redis.call('XDEL', stream, entry)
end
local function holds(key, token) return redis.call('HGET', key, 'token') == token end
local function release(key, state, now)
  drop_entry(redis.call('HGET', key, 'entry'))
  redis.call('HSET', key, 'state', state, 'updated', now)
  redis.call('HDEL', key, 'token', 'entry')
end
"""

# ARGV: namespace, job id, payload
_ENQUEUE = """
local key = job_key(ARGV[2])
if redis.call('EXISTS', key) == 1 then return 0 end
ensure_stream()
redis.call('HSET', key, 'payload', ARGV[3], 'state', 'queued', 'attempts', 0, 'updated', now_ms())
push(ARGV[2])
return 1
"""

# ARGV: namespace, worker, new token, lease (ms). Promotes due retries, then takes an entry whose
# lease ran out, else a new one. An entry whose job no longer points at it is dropped.
_CLAIM = """
ensure_stream()
local now = now_ms()
for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 100)) do
  redis.call('ZREM', delayed, id)
  if redis.call('HGET', job_key(id), 'state') == 'queued' then push(id) end
end
local function expired()
  local cursor = '0-0'
  repeat
    local found = redis.call('XAUTOCLAIM', stream, group, group, ARGV[4], cursor, 'COUNT', 1)
    if #found[2] > 0 then return found[2][1] end
    cursor = found[1]
  until cursor == '0-0'
end
local function fresh()
  local found = redis.call('XREADGROUP', 'GROUP', group, group, 'COUNT', 1, 'STREAMS', stream, '>')
  if found then return found[1][2][1] end
end
for _ = 1, 100 do
  local entry = expired() or fresh()
  if not entry then return false end
  local id = entry[2][2]
  local key = job_key(id)
  local state = redis.call('HGET', key, 'state')
  if redis.call('HGET', key, 'entry') == entry[1] and (state == 'queued' or state == 'running') then
    local attempts = redis.call('HINCRBY', key, 'attempts', 1)
    redis.call('HSET', key, 'state', 'running', 'token', ARGV[3], 'worker', ARGV[2], 'updated', now)
    return {id, redis.call('HGET', key, 'payload'), attempts, redis.call('HGET', key, 'error')}
  end
  drop_entry(entry[1])
end
return false
"""

# ARGV: namespace, job id, token
_HEARTBEAT = """
local key = job_key(ARGV[2])
if not holds(key, ARGV[3]) then return 0 end
redis.call('XCLAIM', stream, group, group, 0, redis.call('HGET', key, 'entry'), 'JUSTID')
redis.call('HSET', key, 'updated', now_ms())
return 1
"""

# ARGV: namespace, job id, token, retention (ms)
_COMPLETE = """
local key = job_key(ARGV[2])
if not holds(key, ARGV[3]) then return 0 end
local now = now_ms()
release(key, 'done', now)
redis.call('PEXPIRE', key, ARGV[4])
redis.call('ZADD', done, now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', done, '-inf', now - tonumber(ARGV[4]))
return 1
"""

# ARGV: namespace, job id, token, error, delay (ms) or '' to dead-letter
_RETRY = """
local key = job_key(ARGV[2])
if not holds(key, ARGV[3]) then return redis.call('HGET', key, 'state') or 'done' end
local now = now_ms()
redis.call('HSET', key, 'error', ARGV[4])
if ARGV[5] == '' then
  release(key, 'dead', now)
  redis.call('ZADD', dead, now, ARGV[2])
  return 'dead'
end
release(key, 'queued', now)
redis.call('ZADD', delayed, now + tonumber(ARGV[5]), ARGV[2])
return 'queued'
"""

# ARGV: namespace, limit
_DEAD_LETTERS = """
local found = {}
for _, id in ipairs(redis.call('ZREVRANGE', dead, 0, tonumber(ARGV[2]) - 1)) do
  local fields = redis.call('HMGET', job_key(id), 'payload', 'attempts', 'error')
  table.insert(found, {id, fields[1], fields[2], fields[3]})
end
return found
"""

# ARGV: namespace, job id
_REQUEUE = """
local key = job_key(ARGV[2])
if redis.call('ZREM', dead, ARGV[2]) == 0 or redis.call('HGET', key, 'state') ~= 'dead' then
  return 0
end
ensure_stream()
redis.call('HSET', key, 'state', 'queued', 'attempts', 0, 'updated', now_ms())
push(ARGV[2])
return 1
"""

# ARGV: namespace, retention (ms). Entries not pending are undelivered: finished ones are deleted.
_DEPTH = """
local queued, running = 0, 0
if redis.call('EXISTS', stream) == 1 then
  running = redis.call('XPENDING', stream, group)[1]
  queued = redis.call('XLEN', stream) - running
end
local since = now_ms() - tonumber(ARGV[2])
return {
  queued + redis.call('ZCARD', delayed),
  running,
  redis.call('ZCOUNT', done, since, '+inf'),
  redis.call('ZCARD', dead),
}
"""

# ARGV: namespace, job ids. Each job's state, or false where the queue holds no such job.
_STATES = """
local found = {}
for i = 2, #ARGV do found[i - 1] = redis.call('HGET', job_key(ARGV[i]), 'state') end
return found
"""

# ARGV: namespace, a fresh id: stored unless an epoch exists, so after a loss the first caller
# makes the new one and everyone reads that.
_EPOCH = """
local key = ns .. ':epoch'
local epoch = redis.call('GET', key)
if epoch then return epoch end
redis.call('SET', key, ARGV[2])
return ARGV[2]
"""


class RedisQueue:
    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        lease_seconds: float,
        retry: RetryPolicy,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.lease_ms = round(lease_seconds * 1000)
        self.retry_policy = retry
        self._scripts = {
            name: client.register_script(_PRELUDE + body)
            for name, body in (
                ("enqueue", _ENQUEUE),
                ("claim", _CLAIM),
                ("heartbeat", _HEARTBEAT),
                ("complete", _COMPLETE),
                ("retry", _RETRY),
                ("dead_letters", _DEAD_LETTERS),
                ("requeue", _REQUEUE),
                ("depth", _DEPTH),
                ("states", _STATES),
                ("epoch", _EPOCH),
            )
        }

    @classmethod
    def from_url(cls, url: str, *, lease_seconds: float, retry: RetryPolicy) -> RedisQueue:
        """`redis://` or `rediss://`; `namespace` is ours, every other query option (such as
        `socket_timeout`) goes to redis-py and overrides the defaults here."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        namespace = next((value for key, value in query if key == "namespace"), DEFAULT_NAMESPACE)
        if not namespace:
            raise ConfigurationError(f"Invalid queue URL {url!r}: the namespace is empty.")
        rest = urlencode([(key, value) for key, value in query if key != "namespace"])
        try:
            client = redis.Redis.from_url(
                urlunsplit(parts._replace(query=rest)),
                decode_responses=True,
                socket_timeout=SOCKET_TIMEOUT_SECONDS,
                socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), RETRIES),
            )
        except ValueError as exc:
            raise ConfigurationError(f"Invalid queue URL {url!r}: {exc}") from exc
        return cls(client, namespace=namespace, lease_seconds=lease_seconds, retry=retry)

    def enqueue(self, job_id: str, payload: dict[str, Any]) -> bool:
        return bool(self._run("enqueue", job_id, json.dumps(payload, separators=(",", ":"))))

    def claim(self, worker: str) -> Job | None:
        token = uuid.uuid4().hex
        found = self._run("claim", worker, token, self.lease_ms)
        if not found:
            return None
        job_id, payload, attempts, error = found
        return Job(job_id, json.loads(payload), int(attempts), token, error)

    def heartbeat(self, job: Job) -> bool:
        return bool(self._run("heartbeat", job.id, job.lease_token))

    def complete(self, job: Job) -> None:
        self._run("complete", job.id, job.lease_token, DONE_RETENTION_SECONDS * 1000)

    def retry(self, job: Job, error: str) -> JobState:
        if job.attempt >= self.retry_policy.max_attempts:
            delay = ""
        else:
            delay = str(round(self.retry_policy.delay(job.attempt) * 1000))
        return JobState(self._run("retry", job.id, job.lease_token, error, delay))

    def dead_letters(self, limit: int = 100) -> list[DeadJob]:
        if limit <= 0:  # ZREVRANGE 0 -1 would mean "all of them"
            return []
        return [
            DeadJob(job_id, json.loads(payload), int(attempts), error)
            for job_id, payload, attempts, error in self._run("dead_letters", limit)
        ]

    def requeue(self, job_id: str) -> bool:
        return bool(self._run("requeue", job_id))

    def depth(self) -> dict[JobState, int]:
        counts = self._run("depth", DONE_RETENTION_SECONDS * 1000)
        states = (JobState.QUEUED, JobState.RUNNING, JobState.DONE, JobState.DEAD)
        return {state: int(count) for state, count in zip(states, counts, strict=True)}

    def states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        found: dict[str, JobState] = {}
        for start in range(0, len(job_ids), STATES_BATCH):
            batch = list(job_ids[start : start + STATES_BATCH])
            states = self._run("states", *batch)
            found.update(
                {job: JobState(state) for job, state in zip(batch, states, strict=True) if state}
            )
        return found

    def epoch(self) -> str:
        return str(self._run("epoch", uuid.uuid4().hex))

    def close(self) -> None:
        self.client.close()

    def _run(self, script: str, *args: str | int) -> Any:
        try:
            return self._scripts[script](args=[self.namespace, *args])
        except redis.RedisError as exc:
            raise BackendError(f"The Redis queue failed: {exc}") from exc


__all__ = ["RedisQueue"]
