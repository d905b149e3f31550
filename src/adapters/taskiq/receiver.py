"""Taskiq's receiver, telling the broker when it is done with a message it could not acknowledge."""

from __future__ import annotations

from taskiq import AckableMessage
from taskiq.receiver import Receiver

from adapters.taskiq.stream_broker import ResilientRedisStreamBroker


class ReleasingReceiver(Receiver):
    """A run that raised outside the task itself (a middleware's retry or give-up could not reach Redis or the
    database) ends without acknowledging its message; the stream broker then stops keeping that message fresh, so
    the last-resort reclaim runs it again instead of leaving it with a live worker for ever."""

    async def callback(self, message: bytes | AckableMessage, raise_err: bool = False) -> None:
        try:
            await super().callback(message, raise_err)
        except Exception:
            if isinstance(self.broker, ResilientRedisStreamBroker) and isinstance(message, AckableMessage):
                self.broker.release(message)
            raise
