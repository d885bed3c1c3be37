"""faust's Kafka transport with a short fetch wait and less of faust's own work per message.

faust fixes the consumer's `fetch.max.wait.ms` at 1.5 s. A broker may hold a fetch that long
before answering with records that arrived meanwhile (seen here: a third of a second on the
median at 10 records/s, 3 ms with 100 ms), and that wait lands on every event's way to its
projection. Waiting less only means more, cheaper fetches while the topic is quiet.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitResults


class RawSchema(faust.Schema[bytes, bytes]):
    """Keys and values as the record holds them, without faust's serializer registry (a
    fifth of its decoding cost per message) for what it would leave as bytes anyway."""

    def loads_key(self, app: Any, message: Any, **_: Any) -> Any:
        return message.key

    def loads_value(self, app: Any, message: Any, **_: Any) -> Any:
        return message.value


def _discard(waits: tuple[Any, ...]) -> None:
    for wait in waits:
        if asyncio.iscoroutine(wait):
            wait.close()  # never started: closed, it is not reported as never awaited


def app_class(fetch_max_wait_ms: int) -> type[faust.App]:
    class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            # Read by the consumer when it starts, which is after this.
            consumer._fetch_max_wait_ms = fetch_max_wait_ms
            return consumer

    class ShortWaitConsumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> ConsumerThread:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

        async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:  # noqa: ASYNC109
            """faust hands every fetched message to its streams this way, racing the delivery
            against a pause of the flow, a stop and a crash: four tasks a message, a third of
            faust's time per event. The delivery nearly always ends in its first step; given
            that step first, only a delivery that has to wait pays for the race."""
            first = coros[0]
            if not asyncio.iscoroutine(first):
                return await super().wait_first(*coros, timeout=timeout)
            task = asyncio.ensure_future(first)
            try:
                await asyncio.sleep(0)  # the task's first step runs before this returns
            except BaseException:
                task.cancel()
                _discard(coros[1:])
                raise
            if task.done() and not (self._stopped.is_set() or self._crashed.is_set()):
                _discard(coros[1:])
                return WaitResults([first], [task.result()], False)
            return await super().wait_first(task, *coros[1:], timeout=timeout)

        async def rewind(self) -> None:
            """Read every assigned partition again from offset 0, as a fresh assignment would:
            faust's acknowledgements and commits of the old positions are forgotten, else it
            would drop the records below them and never commit the new, lower offsets."""
            for tp in self.assignment():
                for tracked in (self._gap, self._acked, self._acked_index, self._committed_offset):
                    tracked.pop(tp, None)
                await self.seek(tp, 0)

    class Transport(faust_aiokafka.Transport):
        Consumer = ShortWaitConsumer

    class App(faust.App):
        def _new_transport(self) -> Any:
            return Transport(self.conf.broker_consumer, self)

        def on_init_dependencies(self) -> Any:
            services = super().on_init_dependencies()
            # faust's Monitor keeps per-message statistics for its web views, which are off
            # here; they cost about a fifth of faust's own time per event. A sensor that does
            # nothing stands in: faust warns at every rebalance when there is none.
            self.sensors.remove(self.monitor)
            self.sensors.add(faust.Sensor())
            return services

        def create_event(self, key: Any, value: Any, headers: Any, message: Any) -> Any:
            # faust looks the Event class up in its settings for every message; none is set here.
            return faust.Event(self, key, value, headers, message)

    return App
