"""Finished answers kept per request while the read models they were computed from stand."""

from __future__ import annotations

import gzip
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial

from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_reporting import queries
from stroom_reporting.service.generations import GenerationWatch

RawHeaders = tuple[tuple[bytes, bytes], ...]


def _raw(headers: tuple[tuple[str, str], ...], body: bytes, media_type: str) -> RawHeaders:
    """Headers as an ASGI response starts with them, lower-cased names first, then the length and
    the media type (which carries its own charset)."""
    named = tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers)
    return (*named, (b"content-length", str(len(body)).encode()), (b"content-type", media_type.encode()))


@dataclass(frozen=True, slots=True)
class Answer:
    """What a report's response carries: its body, media type and own headers; a kept answer also
    its body gzipped, when that is much smaller (`compressed`). The raw headers of both bodies are
    built once, with the answer: a kept answer is sent many times."""

    body: bytes
    media_type: str
    headers: tuple[tuple[str, str], ...] = ()
    gzipped: bytes | None = None
    plain_headers: RawHeaders = field(init=False, repr=False, compare=False)
    gzipped_headers: RawHeaders = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        own = self.headers
        if self.gzipped is not None:
            own = (*own, ("vary", "accept-encoding"))
            packed = _raw((*own, ("content-encoding", "gzip")), self.gzipped, self.media_type)
            object.__setattr__(self, "gzipped_headers", packed)
        object.__setattr__(self, "plain_headers", _raw(own, self.body, self.media_type))

    def sent(self, accept_encoding: str | None) -> tuple[bytes, RawHeaders]:
        """The body and headers of the response to a request with this Accept-Encoding: gzipped
        when the answer is kept so and the request accepts gzip."""
        if self.gzipped is not None and accepts_gzip(accept_encoding):
            return self.gzipped, self.gzipped_headers
        return self.body, self.plain_headers


# A kept answer is compressed once, by the request that computed it (about 2.5 ms for the
# organisation's five years, 0.55 MB of JSON to 18 kB); one that gzip hardly shrinks (XLSX is a
# zip already) is sent as it is.
GZIP_LEVEL = 6
WORTH_GZIP = 0.9


def compressed(answer: Answer) -> Answer:
    """`answer` with its body gzipped, if that is less than WORTH_GZIP of the body."""
    packed = gzip.compress(answer.body, GZIP_LEVEL, mtime=0)
    return replace(answer, gzipped=packed) if len(packed) < WORTH_GZIP * len(answer.body) else answer


# A client sends the same Accept-Encoding with every request.
@lru_cache(maxsize=64)
def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether a request's Accept-Encoding (RFC 9110, 12.5.3) takes gzip: named with a weight
    above 0, or not named and `*` with one. A weight that is no number takes nothing."""
    if not accept_encoding:
        return False
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, _, parameters = item.partition(";")
        name, _, value = parameters.partition("=")
        try:
            weight = float(value) if name.strip().lower() == "q" else 1.0
        except ValueError:
            weight = 0.0
        weights[coding.strip().lower()] = weight
    return weights.get("gzip", weights.get("*", 0.0)) > 0


class Answers:
    """The last `size` answers, each under its request's key and the generation of the read models
    it was computed from (queries.generation, moved in the transaction of every change of them).

    A kept answer is served only while the generation stands, so it is the answer computed now.
    One is kept only if the generation read after computing it is the one read before: each
    statement sees what was committed when it began (read committed or autocommit; on SQLite each
    read outside a write transaction), so every statement between saw that generation's data. The key must
    hold every request parameter, the caller's scope and the report day (`key` is asked again
    after computing: past midnight the answer is not kept). With a `watch`, the generation before
    is the one it knows, when it knows one: no round trip. The one after is always read."""

    def __init__(self, size: int, watch: GenerationWatch | None = None) -> None:
        self.size = size
        self.watch = watch
        self._kept: OrderedDict[Hashable, tuple[int, Answer]] = OrderedDict()

    async def generation(self, read: Callable[[], Awaitable[int]]) -> int:
        """The generation now: the one the watch knows, else `read` (and the watch taught it)."""
        watch = self.watch
        if watch is None:
            return await read()
        if watch.known is not None:
            return watch.known
        moves = watch.moves
        generation = await read()
        watch.learn(generation, moves)
        return generation

    async def kept(self, asked: Hashable, read: Callable[[], Awaitable[int]]) -> tuple[int, Answer | None]:
        """The generation now (`read` when not known), and the answer kept under `asked` if it
        was computed under it."""
        generation = await self.generation(read)
        kept = self._kept.get(asked)
        if kept is None or kept[0] != generation:
            return generation, None
        self._kept.move_to_end(asked)
        return generation, kept[1]

    async def serve(
        self,
        conn: AsyncConnection,
        key: Callable[[], Hashable],
        compute: Callable[[], Awaitable[Answer]],
        generation: int | None = None,
    ) -> Answer:
        """The kept answer, else the one computed now (and kept). `generation`: the caller has
        just asked `kept` for this key, found none, and read this generation then."""
        if not self.size:
            return await compute()
        asked = key()
        if generation is None:
            generation, answer = await self.kept(asked, partial(queries.generation, conn))
            if answer is not None:
                return answer
        answer = await compute()
        if key() == asked and await queries.generation(conn) == generation:
            answer = compressed(answer)
            self._kept[asked] = (generation, answer)
            self._kept.move_to_end(asked)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return answer
