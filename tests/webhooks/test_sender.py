"""The delivery wire (mock_xtnd/webhooks/sender.py) against receivers that answer in every HTTP/1.1 way: it must
read the whole answer, keep connections alive only when it may, and never turn a stale keep-alive into a failure."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from mock_xtnd.webhooks.sender import Sender
from mock_xtnd.webhooks.signing import verify

Answer = Callable[[bytes], bytes]


async def serve(answer: Answer, *, close_after: bool = False) -> tuple[asyncio.Server, list[bytes], list[int]]:
    """A raw receiver: records each request's body, answers with answer(body); counts connections."""
    bodies: list[bytes] = []
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))
                body = await reader.readexactly(length)
                bodies.append(head + body)
                writer.write(answer(body))
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, bodies, connections


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def url(server: asyncio.Server) -> str:
    return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/xtnd/webhooks"


@pytest.mark.parametrize(
    "answer, status",
    [
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", 200),
        (b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n\r\nno", 401),
        (b"HTTP/1.1 410 Gone\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n", 410),
    ],
)
def test_every_answer_is_read_whole_and_the_connection_reused(answer: bytes, status: int) -> None:
    async def main() -> None:
        server, bodies, connections = await serve(lambda _b: answer)
        sender = Sender(timeout=5)
        for i in range(3):
            got = await sender.post(url(server), b'{"n": %d}' % i, "sha256=AB")
            assert got[0] == status and got[1] is None, got
        assert len(bodies) == 3 and bodies[2].endswith(b'{"n": 2}')
        assert b"ms-signature: sha256=AB\r\n" in bodies[0]
        assert len(connections) == 1, "keep-alive: one connection for three posts"
        await sender.close()
        server.close()

    run(main())


def test_an_answer_without_length_runs_to_close_and_is_not_reused() -> None:
    async def main() -> None:
        server, bodies, connections = await serve(lambda _b: b"HTTP/1.1 200 OK\r\n\r\nbody until close",
                                                  close_after=True)
        sender = Sender(timeout=5)
        assert (await sender.post(url(server), b"{}", None))[0] == 200
        assert (await sender.post(url(server), b"{}", None))[0] == 200
        assert len(connections) == 2 and len(bodies) == 2
        assert b"ms-signature" not in bodies[0]  # a forged "missing" signature sends no header at all
        await sender.close()
        server.close()

    run(main())


def test_connection_close_and_http_1_0_are_honoured() -> None:
    async def main() -> None:
        for answer in (b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
                       b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"):
            server, _bodies, connections = await serve(lambda _b, a=answer: a, close_after=True)
            sender = Sender(timeout=5)
            for _ in range(2):
                status, error, _ms = await sender.post(url(server), b"{}", None)
                assert (status, error) != (None, "reset")
            assert len(connections) == 2
            await sender.close()
            server.close()

    run(main())


def test_a_keep_alive_the_receiver_closed_while_idle_is_replaced_not_failed() -> None:
    async def main() -> None:
        # the receiver answers keep-alive, then closes the idle connection (as servers do after a timeout)
        server, bodies, connections = await serve(lambda _b: b"HTTP/1.1 204 No Content\r\n\r\n", close_after=True)
        sender = Sender(timeout=5)
        for _ in range(3):
            status, error, _ms = await sender.post(url(server), b"{}", None)
            assert (status, error) == (204, None)
            await asyncio.sleep(0.05)  # let the close reach us
        assert len(bodies) == 3 and len(connections) == 3
        await sender.close()
        server.close()

    run(main())


def test_refused_and_timeout_are_told_apart() -> None:
    async def main() -> None:
        server, _b, _c = await serve(lambda _b: b"HTTP/1.1 204 No Content\r\n\r\n")
        dead_url = url(server)
        server.close()
        await server.wait_closed()
        sender = Sender(timeout=5)
        assert (await sender.post(dead_url, b"{}", None))[:2] == (None, "refused")

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(10)

        slow = await asyncio.start_server(silent, "127.0.0.1", 0)
        sender = Sender(timeout=0.3)
        assert (await sender.post(url(slow), b"{}", None))[:2] == (None, "timeout")
        slow.close()
        await sender.close()

    run(main())


def test_the_signature_sent_is_over_the_exact_bytes() -> None:
    from mock_xtnd.webhooks.signing import sign

    async def main() -> None:
        server, bodies, _c = await serve(lambda _b: b"HTTP/1.1 204 No Content\r\n\r\n")
        sender = Sender(timeout=5)
        body = '{\n  "Id": "åäö 1/2"\n}'.encode()
        await sender.post(url(server), body, sign("k", body))
        head, _, received = bodies[0].partition(b"\r\n\r\n")
        header = next(line for line in head.split(b"\r\n") if line.startswith(b"ms-signature"))
        assert received == body and verify("k", received, header.split(b": ", 1)[1].decode())
        await sender.close()
        server.close()

    run(main())
