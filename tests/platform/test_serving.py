"""The services' HTTP servers leave closing an idle connection to the client."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from stroom_platform.broker import free_port
from stroom_platform.serving import AppGroup, Endpoint

# Longer than httpx keeps an idle connection (5 s), the client of the CLI and the tests.
CLIENT_IDLE_SECONDS = 6.0
REQUEST = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def _response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


async def test_a_connection_idle_as_long_as_a_client_keeps_it_still_gets_an_answer() -> None:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    group = AppGroup([Endpoint("ping", app, "127.0.0.1", free_port())])
    await group.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", group.endpoints[0].port)
        writer.write(REQUEST)
        assert (await _response(reader)).startswith(b"HTTP/1.1 200")
        await asyncio.sleep(CLIENT_IDLE_SECONDS)
        # A server that closed the connection meanwhile answers this with EOF or a reset.
        assert not reader.at_eof()
        writer.write(REQUEST)
        assert (await _response(reader)).startswith(b"HTTP/1.1 200")
        writer.close()
        await writer.wait_closed()
    finally:
        await group.stop()
