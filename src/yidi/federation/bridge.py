"""One NATS connection per role, driven from synchronous code.

nats-py is asyncio; yidi's use cases are synchronous (SQLAlchemy sessions, run in the server's worker threads).
Each ``Bridge`` owns an event loop on a daemon thread with one connection on it: callers block on
``run_coroutine_threadsafe(...).result()``, and a served subject's handler runs in the bridge's thread pool (never on
the loop), so a handler that waits on the database — or itself asks another node — never stalls the connection.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable
from urllib.parse import urlparse

import nats
from nats.js.errors import NoKeysError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

DEFAULT_URL = "nats://127.0.0.1:4222"
HOW_TO_START = ("请先启动带 JetStream 的 NATS 服务器，例如 Debian/Ubuntu：apt-get install nats-server，然后运行 "
                "nats-server -js -a 127.0.0.1 -p 4222 &（或用 YIDI_NATS_URL 指向已有的 NATS）。")


class Unreachable(Exception):
    """NATS does not answer at the given URL."""


class NoResponder(Exception):
    """Nobody serves the subject (the node is not running) or it did not answer in time."""

    def __init__(self, subject: str, timed_out: bool):
        super().__init__(subject)
        self.subject = subject
        self.timed_out = timed_out


class Disconnected(Exception):
    """This process's connection to NATS is down (the server stopped or unreachable); it is reconnecting."""


def reachable(url: str, timeout: float = 1.0) -> bool:
    """A TCP connect to the server (nats-py's own connect keeps retrying an absent server)."""
    parsed = urlparse(url if "://" in url else f"nats://{url}")
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 4222), timeout=timeout):
            return True
    except OSError:
        return False


class Bridge:
    def __init__(self, url: str = DEFAULT_URL, *, name: str = "yidi", workers: int = 8):
        if not reachable(url):
            raise Unreachable(url)
        self.url = url
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=f"nats-{name}", daemon=True)
        self._thread.start()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"nats-{name}")
        # reconnect forever: a NATS restart is waited out, requests meanwhile fail fast with a coded answer
        self.nc = self.run(nats.connect(url, name=name, connect_timeout=3, max_reconnect_attempts=-1,
                                        reconnect_time_wait=0.5), timeout=10)
        self.js = self.nc.jetstream()
        self._tasks: list[asyncio.Task] = []  # long-running loops on this connection (e.g. the deferred queue's)

    @property
    def connected(self) -> bool:
        return self.nc.is_connected

    def run(self, coro, timeout: float | None = 30) -> Any:
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError:  # the loop is already closed (the bridge went away): the coroutine never runs
            coro.close()
            raise
        return future.result(timeout)

    # ------------------------------------------------------------ request / reply --
    def request(self, subject: str, body: dict, *, timeout: float, headers: dict | None = None) -> dict:
        data = json.dumps(body, ensure_ascii=False, default=str).encode()
        if not self.nc.is_connected:
            # fail at once: nats-py would buffer the request until the reconnect and deliver it late, after its
            # caller has already answered the hospital
            raise Disconnected(self.url)
        try:
            reply = self.run(self.nc.request(subject, data, timeout=timeout, headers=headers), timeout=timeout + 5)
        except NoRespondersError:
            raise NoResponder(subject, timed_out=False) from None
        except NatsTimeout:
            raise NoResponder(subject, timed_out=True) from None
        return json.loads(reply.data)

    def serve(self, subject: str, handler: Callable[[dict], dict], *, queue: str) -> None:
        """Answer requests on ``subject`` (a queue group: several processes of one node share the load)."""

        async def on_message(msg) -> None:
            body = json.loads(msg.data)
            answer = await self.loop.run_in_executor(self._pool, handler, body)
            await msg.respond(json.dumps(answer, ensure_ascii=False, default=str).encode())

        self.run(self.nc.subscribe(subject, queue=queue, cb=on_message))
        self.run(self.nc.flush())  # the subscription is registered at the server before anyone asks

    # ----------------------------------------------------------------- JetStream KV --
    def kv_put_all(self, bucket: str, values: dict[str, dict]) -> None:
        async def put() -> None:
            kv = await self.js.create_key_value(bucket=bucket, history=1)
            for key, value in values.items():
                await kv.put(key, json.dumps(value, ensure_ascii=False).encode())

        self.run(put())

    def kv_items(self, bucket: str) -> dict[str, dict]:
        async def read() -> dict[str, dict]:
            kv = await self.js.key_value(bucket)
            out = {}
            try:
                keys = await kv.keys()
            except NoKeysError:  # empty — or, on a loaded server, the listing's consumer saw nothing in time
                return out
            for key in keys:
                entry = await kv.get(key)
                out[key] = json.loads(entry.value)
            return out

        return self.run(read())

    # --------------------------------------------------------- JetStream object store --
    def object_put(self, bucket: str, name: str, data: bytes, *, ttl: float) -> None:
        """Store ``data`` under ``name`` (the bucket is made on first use; its objects expire after ``ttl`` s)."""
        from nats.js.api import ObjectStoreConfig

        async def put() -> None:
            store = await self.js.create_object_store(bucket, config=ObjectStoreConfig(bucket=bucket, ttl=ttl))
            await store.put(name, data)

        self.run(put())

    def object_get(self, bucket: str, name: str) -> bytes:
        async def get() -> bytes:
            store = await self.js.object_store(bucket)
            return (await store.get(name)).data

        return self.run(get())

    def object_delete(self, bucket: str, name: str) -> None:
        async def delete() -> None:
            store = await self.js.object_store(bucket)
            await store.delete(name)

        self.run(delete())

    def delete_object_store(self, bucket: str) -> None:
        self.run(self.js.delete_object_store(bucket))

    def delete_bucket(self, bucket: str) -> None:
        self.run(self.js.delete_key_value(bucket))

    # ------------------------------------------------------------- background loops --
    def start_loop(self, make_coro: Callable[[], Any]) -> None:
        """Run ``make_coro()`` on this connection's loop until ``close`` cancels it."""
        async def start() -> None:
            self._tasks.append(asyncio.ensure_future(make_coro()))

        self.run(start())

    def in_pool(self, fn: Callable, *args) -> Any:
        """From a coroutine on this loop: run blocking ``fn(*args)`` in the bridge's thread pool and await it."""
        return self.loop.run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        async def cancel_loops() -> None:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        if self._tasks:
            try:
                self.run(cancel_loops(), timeout=30)
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        try:
            if not self.nc.is_closed:  # already closed (e.g. by the server going away for good): nothing to drain
                self.run(self.nc.drain(), timeout=10)
        finally:
            self._pool.shutdown(wait=True)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
            self.loop.close()
