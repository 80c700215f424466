"""Logout events (README.md, "Events"): with ``mtoken.events`` on, the
module publishes one message per device that stops being valid, on its
user's channel (``MTOKEN.CHANNEL user``), as ``<reason> <id> <user>``.

``EventListener`` follows the users you care about (e.g. those with an open
websocket on this process) and hands you ``Event``s::

    listener = EventListener(redis.Redis(...))
    listener.follow(user.pk)
    for event in listener.events(timeout=1.0):   # or listener.get(timeout)
        close_connections(event.user, event.device_id)

Pub/sub is at-most-once: a listener that reconnects may have missed
messages. Use events to close connections promptly, not as the record.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional, Union

from . import _protocol as p
from ._protocol import UserId

__all__ = ["Event", "EventListener", "parse_event", "REASONS"]

REASONS = ("logout", "expireall", "revoke", "evicted", "max-lifetime", "expired", "reuse")


@dataclass(frozen=True)
class Event:
    """One device that stopped being valid.

    - ``reason``: one of ``REASONS``;
    - ``device_id``: its id as ``Client.list`` shows it (``Device.id``);
    - ``user``: the user id (str, or bytes when it is not UTF-8).
    """

    reason: str
    device_id: str
    user: Union[str, bytes]


def parse_event(payload: Union[str, bytes]) -> Event:
    """An event from a message payload (``<reason> <id> <user>``)."""
    raw = payload.encode() if isinstance(payload, str) else bytes(payload)
    parts = raw.split(b" ", 2)
    if len(parts) != 3:
        raise ValueError("not an mtoken event")
    reason, device_id, user = parts
    try:
        user_out: Union[str, bytes] = user.decode()
    except UnicodeDecodeError:
        user_out = user
    return Event(reason.decode(), device_id.decode(), user_out)


class EventListener:
    """Follows users' event channels on a redis-py client.

    ``sharded=True`` (for ``mtoken.events sharded``) subscribes with
    ``SSUBSCRIBE``: on Redis Cluster, pass a ``RedisCluster`` and redis-py
    subscribes on the node that owns each user. ``sharded=False`` is for
    ``mtoken.events global`` (``SUBSCRIBE``).
    """

    def __init__(self, redis_client: Any, *, sharded: bool = True) -> None:
        self.redis = redis_client
        self.sharded = sharded
        self.pubsub = redis_client.pubsub()
        self._channels: dict[str, bytes] = {}

    def _channel(self, user_id: UserId) -> str:
        return p.run(p.channel(user_id), self.redis.execute_command)

    def follow(self, user_id: UserId) -> None:
        key = p.user_arg(user_id).hex()
        if key in self._channels:
            return
        channel = self._channel(user_id)
        if self.sharded:
            self.pubsub.ssubscribe(channel)
        else:
            self.pubsub.subscribe(channel)
        self._channels[key] = channel.encode()

    def unfollow(self, user_id: UserId) -> None:
        channel = self._channels.pop(p.user_arg(user_id).hex(), None)
        if channel is None:
            return
        if self.sharded:
            self.pubsub.sunsubscribe(channel)
        else:
            self.pubsub.unsubscribe(channel)

    def get(self, timeout: float = 0.0) -> Optional[Event]:
        """The next event, waiting at most ``timeout`` seconds; None if none
        came (subscription confirmations are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.0, deadline - time.monotonic())
            if self.sharded:
                msg = self.pubsub.get_sharded_message(ignore_subscribe_messages=True, timeout=left)
            else:
                msg = self.pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            if msg and msg.get("type") in ("smessage", "message"):
                return parse_event(msg["data"])
            if time.monotonic() >= deadline:
                return None

    def events(self, timeout: float = 1.0) -> Iterator[Event]:
        """Events as they come, until ``timeout`` passes without one."""
        while True:
            event = self.get(timeout)
            if event is None:
                return
            yield event

    def close(self) -> None:
        self.pubsub.close()

    def __enter__(self) -> EventListener:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
