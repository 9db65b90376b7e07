"""Redis: the online feature store, the project's own instance in ``<state>/redis``.

Append-only persistence in the state folder, bound to 127.0.0.1 only.
"""

from __future__ import annotations

import shutil

import redis

from fraudlake.stack.process import ProcessSpec
from fraudlake.stack.service import Service


class RedisService(Service):
    name = "redis"
    start_timeout = 20.0

    def ports(self) -> dict[str, int]:
        return {"redis": self.config.redis.port}

    def urls(self) -> dict[str, str]:
        return {"online store": self.config.redis_url}

    def prepare(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)

    def processes(self) -> list[ProcessSpec]:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError(
                "redis-server not found; run `make install` (installs the Debian package "
                "redis-server)"
            )
        argv = [
            server,
            "--port",
            str(self.config.redis.port),
            "--bind",
            self.config.host,
            "--dir",
            str(self.state_dir),
            "--appendonly",
            "yes",
            "--save",
            "60 1",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--logfile",
            "",  # to stdout, which the process table writes to logs/redis.log
        ]
        return [ProcessSpec("redis", argv)]

    def healthy(self) -> bool:
        client = redis.Redis(host=self.config.host, port=self.config.redis.port, socket_timeout=1.0)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()
