"""How a delivery attempt goes on the wire.

Plain-HTTP callbacks (every local receiver) go through a small HTTP/1.1 client on asyncio streams with a keep-alive
pool per host: on this kind of machine aiohttp costs about twice the CPU per delivery and httpx's async pool
collapses under concurrency (shared/performance-notes.md, bench/results/webhooks.json). It reads the whole answer
(Content-Length, chunked, or until close), honours ``Connection: close``, and retries once on a fresh connection
when a pooled one turns out to have been closed by the receiver while idle (so a stale keep-alive never costs a
retry a minute later). HTTPS callbacks go through aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp

from .signing import SIGNATURE_HEADER
from .urls import CallbackUrlError, parse_callback_url

Result = tuple[int | None, str | None, float]  # (status, error, latency ms)
NO_BODY_STATUSES = frozenset({204, 304})


class _Stale(Exception):
    """A pooled connection was closed by the peer before it answered anything."""


class Sender:
    def __init__(self, timeout: float, max_idle_per_host: int = 64) -> None:
        self.timeout = timeout
        self.max_idle_per_host = max_idle_per_host
        self._idle: dict[tuple[str, int], list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: bytes, signature: str | None) -> Result:
        """One attempt. Never raises: whatever goes wrong is an error string (a failed attempt, retried)."""
        started = time.perf_counter()
        try:
            parsed = parse_callback_url(url)
        except CallbackUrlError:  # validated when subscribed; a URL from an older database may still be bad
            return None, "invalid-url", 0.0
        if parsed.scheme != "http":
            return await self._post_tls(parsed.url, body, signature, started)
        host, port, target = parsed.host, parsed.port, parsed.target
        head = (
            f"POST {target} HTTP/1.1\r\nHost: {parsed.host_header}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"User-Agent: mock-xtnd-webhooks\r\nContent-Length: {len(body)}\r\n"
            + (f"{SIGNATURE_HEADER}: {signature}\r\n" if signature is not None else "")
            + "\r\n"
        ).encode("latin-1")
        error = "reset"
        try:
            async with asyncio.timeout(self.timeout):
                pool = self._idle.setdefault((host, port), [])
                while pool:  # reuse a kept-alive connection; a stale one is dropped and the next tried
                    conn = pool.pop()
                    try:
                        return self._done(await self._exchange(conn, (host, port), head + body, True), started)
                    except _Stale:
                        continue
                conn = await asyncio.open_connection(host, port)
                return self._done(await self._exchange(conn, (host, port), head + body, False), started)
        except TimeoutError:
            error = "timeout"
        except ConnectionRefusedError:
            error = "refused"
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError, _Stale):
            error = "reset"
        except Exception:  # anything else is still a failed attempt, never a stuck delivery
            error = "error"
        return None, error, (time.perf_counter() - started) * 1000

    @staticmethod
    def _done(status: int, started: float) -> Result:
        return status, None, (time.perf_counter() - started) * 1000

    async def _exchange(
        self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], key: tuple[str, int], request: bytes,
        pooled: bool,
    ) -> int:
        reader, writer = conn
        keep = False
        try:
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:
                raise _Stale() if pooled else ConnectionResetError("closed before answering")
            version, status_text = status_line.split(b" ", 2)[:2]
            status = int(status_text)
            length: int | None = None
            chunked = False
            close = version == b"HTTP/1.0"
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
                elif name == b"connection":
                    close = b"close" in value.lower() or (close and b"keep-alive" not in value.lower())
            if chunked:
                while (size := int((await reader.readline()).split(b";")[0].strip(), 16)) > 0:
                    await reader.readexactly(size + 2)
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
            elif length is not None:
                await reader.readexactly(length)
            elif status not in NO_BODY_STATUSES and not 100 <= status < 200:
                await reader.read()  # no length given: the body runs until the receiver closes
                close = True
            keep = not close
            return status
        finally:
            pool = self._idle.setdefault(key, [])
            if keep and len(pool) < self.max_idle_per_host:
                pool.append(conn)
            else:
                writer.close()

    async def _post_tls(self, url: str, body: bytes, signature: str | None, started: float) -> Result:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "mock-xtnd-webhooks"}
        if signature is not None:
            headers[SIGNATURE_HEADER] = signature
        try:
            async with self._session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                return resp.status, None, (time.perf_counter() - started) * 1000
        except TimeoutError:
            return None, "timeout", (time.perf_counter() - started) * 1000
        except aiohttp.ClientConnectorError:
            return None, "refused", (time.perf_counter() - started) * 1000
        except aiohttp.ClientError as e:
            return None, type(e).__name__, (time.perf_counter() - started) * 1000
        except Exception:
            return None, "error", (time.perf_counter() - started) * 1000

    async def close(self) -> None:
        for pool in self._idle.values():
            for _reader, writer in pool:
                with contextlib.suppress(Exception):
                    writer.close()
        self._idle.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

