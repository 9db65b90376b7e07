"""Kafka: one Apache Kafka 4 node in KRaft mode, broker and controller in one JVM.

The jars come from Maven Central (``infra/kafka/pom.xml``, fetched into
``.tools/kafka/libs`` by ``infra/kafka/install.sh``, which ``make install`` runs) and run
on the machine's Java 17+ as ``java -cp '<libs>/*' kafka.Kafka server.properties``; no
Kafka distribution tarball or ZooKeeper is involved.

State lives in ``<state>/kafka``: ``server.properties`` and ``log4j2.xml`` (rewritten by
every :meth:`KafkaService.prepare`, so port changes apply on the next start), ``data/`` (the
log dir, formatted once by Kafka's StorageTool as a single-node dynamic quorum),
``cluster.id`` (generated once, kept) and ``logs/server.log`` (the broker's full log; the
process log that ``stack logs kafka`` shows gets warnings and errors only).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from xml.sax.saxutils import escape

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from fraudlake.stack.install import install_root
from fraudlake.stack.process import ProcessSpec
from fraudlake.stack.service import Service, port_open

#: Where the jars go, relative to the project root (see ``infra/kafka/install.sh``).
LIBS_DIR = Path(".tools/kafka/libs")
#: The broker's entry point and the storage formatter, both in ``kafka_2.13-<v>.jar``.
BROKER_MAIN = "kafka.Kafka"
STORAGE_TOOL_MAIN = "kafka.tools.StorageTool"
#: The node's id: it is the only broker and the only controller voter.
NODE_ID = 1


def kafka_libs(root: Path | None = None) -> Path:
    """The folder of the broker's jars, ``<root>/.tools/kafka/libs``.

    ``root`` defaults to :func:`~fraudlake.stack.install.install_root`. Raises
    :class:`RuntimeError` naming ``make install`` when the folder or Kafka's own jar is
    missing; install.sh only creates the folder once a fetch is complete.
    """
    libs = (root if root is not None else install_root()) / LIBS_DIR
    if not libs.is_dir() or not any(libs.glob("kafka_2.13-*.jar")):
        raise RuntimeError(
            f"Kafka jars not found in {libs}; run `make install` "
            "(or `bash infra/kafka/install.sh`, which fetches them from Maven Central)"
        )
    return libs


def java_binary() -> str:
    """``$JAVA_HOME/bin/java`` when JAVA_HOME is set and has one, else ``java`` on PATH.
    Raises :class:`RuntimeError` when neither exists (Kafka 4 needs Java 17+)."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise RuntimeError(
            "`java` not found (Kafka 4 needs Java 17+); install a JDK/JRE, "
            "e.g. the Debian package openjdk-17-jre-headless, or set JAVA_HOME"
        )
    return found


def new_cluster_id() -> str:
    """A random cluster id in Kafka's format: 16 random bytes, URL-safe base64, unpadded
    (what ``kafka-storage random-uuid`` prints), never starting with ``-`` (Kafka avoids
    those too: they read as an option on a command line)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


def _read_properties(path: Path) -> dict[str, str]:
    """The ``key=value`` lines of a simple Java properties file (as Kafka writes
    ``meta.properties``: no continuations, ``#`` comments)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _property_value(value: str) -> str:
    # Java properties treat a backslash as an escape; every other character we write
    # (paths, host:port lists) is literal after the first '='.
    return value.replace("\\", "\\\\")


class KafkaService(Service):
    name = "kafka"
    # A cold JVM start to a serving broker takes ~5 s here; leave room for slow machines
    # and for log recovery after an unclean stop.
    start_timeout = 90.0

    @property
    def data_dir(self) -> Path:
        """The log dir (topic partitions and the KRaft metadata log)."""
        return self.state_dir / "data"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def properties_path(self) -> Path:
        return self.state_dir / "server.properties"

    @property
    def log4j_path(self) -> Path:
        return self.state_dir / "log4j2.xml"

    @property
    def cluster_id_path(self) -> Path:
        return self.state_dir / "cluster.id"

    def ports(self) -> dict[str, int]:
        return {"broker": self.config.kafka.port, "controller": self.config.kafka.controller_port}

    def urls(self) -> dict[str, str]:
        return {"bootstrap": self.config.kafka_bootstrap}

    # -- configuration files ------------------------------------------------------------

    def server_properties(self) -> dict[str, str]:
        """The broker's configuration, from the stack config."""
        host, kafka = self.config.host, self.config.kafka
        controller = f"{host}:{kafka.controller_port}"
        return {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            "listeners": f"PLAINTEXT://{host}:{kafka.port},CONTROLLER://{controller}",
            # Clients are told the PLAINTEXT address only; the controller listener is
            # internal to the node.
            "advertised.listeners": f"PLAINTEXT://{host}:{kafka.port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            # The dynamic-quorum form Kafka 4 prefers (formatted with --standalone); the
            # voter set lives in the metadata log, and the node updates its own endpoint
            # there when controller_port changes, so a port change needs no reformat.
            "controller.quorum.bootstrap.servers": controller,
            "log.dirs": str(self.data_dir),
            "num.partitions": str(kafka.partitions),
            # One broker: every internal topic must do with one replica.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # The default 50 partitions of __consumer_offsets and __transaction_state buy
            # no parallelism on one node and slow the first group join and every start.
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.num.partitions": "1",
            # Consumers join at once instead of waiting 3 s for more members.
            "group.initial.rebalance.delay.ms": "0",
            # Topics come from the config (after_start); a typo must fail, not create one.
            "auto.create.topics.enable": "false",
            # Retention counts from when a message arrived, not from the timestamp its
            # producer set: Flink's sink stamps records with their event time, and a
            # replayed 2024 day would otherwise be deleted as soon as its segment rolls.
            "log.message.timestamp.type": "LogAppendTime",
            # One node has nowhere to move leadership. A controlled shutdown leaves its
            # partitions leaderless while the transaction coordinator still sends commit
            # markers; Kafka then skips those markers as if the partitions were deleted
            # and records the commit complete, so the transaction stays open on the
            # partitions for good and read_committed readers of `features` stop there
            # (seen in the broker-restart fault test). Without it the coordinator keeps
            # the commit pending and finishes it after the restart.
            "controlled.shutdown.enable": "false",
        }

    def _write_properties(self) -> None:
        lines = ["# Written by fraudlake.stack.kafka on every start; edits are overwritten."]
        lines += [f"{k}={_property_value(v)}" for k, v in self.server_properties().items()]
        self.properties_path.write_text("\n".join(lines) + "\n")

    def _write_log4j(self) -> None:
        # Everything goes to a size-capped file in the state folder; only warnings and
        # errors also reach stdout, i.e. the process log the manager tails on a failure.
        log_file = escape(str(self.log_dir / "server.log"), {'"': "&quot;"})
        self.log4j_path.write_text(
            f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by fraudlake.stack.kafka on every start; edits are overwritten. -->
<Configuration status="WARN" shutdownHook="disable">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT">
      <ThresholdFilter level="WARN"/>
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
    <RollingFile name="server" fileName="{log_file}" filePattern="{log_file}.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <Policies><SizeBasedTriggeringPolicy size="10 MB"/></Policies>
      <DefaultRolloverStrategy max="5"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO">
      <AppenderRef ref="stdout"/>
      <AppenderRef ref="server"/>
    </Root>
    <!-- one line per request at INFO+; Kafka's own config keeps it at WARN too -->
    <Logger name="kafka.request.logger" level="WARN"/>
  </Loggers>
</Configuration>
"""
        )

    # -- lifecycle ----------------------------------------------------------------------

    def prepare(self) -> None:
        """Write ``server.properties`` and ``log4j2.xml``; on first start, generate the
        cluster id (``cluster.id``) and format the storage.

        Idempotent: formatted storage (``data/meta.properties`` present) is never touched
        again, and an existing ``cluster.id`` is never replaced. Raises
        :class:`RuntimeError` when the jars or ``java`` are missing or formatting fails.
        """
        libs = kafka_libs()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._write_properties()
        self._write_log4j()
        meta = self.data_dir / "meta.properties"
        if meta.exists():
            # Formatted before; recover a lost cluster.id from what the storage holds.
            if not self.cluster_id_path.exists():
                cluster_id = _read_properties(meta).get("cluster.id")
                if cluster_id:
                    self.cluster_id_path.write_text(cluster_id + "\n")
            return
        if not self.cluster_id_path.exists():
            self.cluster_id_path.write_text(new_cluster_id() + "\n")
        cluster_id = self.cluster_id_path.read_text().strip()
        self._format(libs, cluster_id)

    def _format(self, libs: Path, cluster_id: str) -> None:
        """Run Kafka's StorageTool: a single-node dynamic controller quorum
        (``--standalone``, matching ``controller.quorum.bootstrap.servers``)."""
        argv = [
            java_binary(),
            "-Xmx256m",  # a short-lived tool; the broker's heap is not needed
            f"-Dlog4j2.configurationFile={self.log4j_path}",
            "-cp",
            f"{libs}/*",
            STORAGE_TOOL_MAIN,
            "format",
            "--config",
            str(self.properties_path),
            "--cluster-id",
            cluster_id,
            "--standalone",
        ]
        result = subprocess.run(
            argv, capture_output=True, text=True, check=False, cwd=self.state_dir, timeout=120
        )
        if result.returncode != 0:
            # No meta.properties means nothing usable was written: start clean next time.
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise RuntimeError(
                f"formatting Kafka storage in {self.data_dir} failed "
                f"(exit {result.returncode}): {(result.stderr or result.stdout).strip()}"
            )

    def processes(self) -> list[ProcessSpec]:
        heap = self.config.kafka.heap
        argv = [
            java_binary(),
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            # A broker out of heap is wedged, not degraded: exit so the manager sees it.
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.log4j_path}",
            "-cp",
            f"{kafka_libs()}/*",  # java expands the '*' itself; no shell is involved
            BROKER_MAIN,
            str(self.properties_path),
        ]
        return [ProcessSpec(self.name, argv, cwd=self.state_dir)]

    def _admin(self, timeout_ms: int) -> KafkaAdminClient:
        return KafkaAdminClient(
            bootstrap_servers=self.config.kafka_bootstrap,
            client_id="fraudlake-stack",
            request_timeout_ms=timeout_ms,
            api_version_auto_timeout_ms=timeout_ms,
        )

    def healthy(self) -> bool:
        """True when the broker answers a metadata request (list topics) within ~3 s.
        Never raises."""
        # A closed port answers at once; kafka-python would spend its whole
        # version-probe timeout (and log errors) finding that out.
        if not port_open(self.config.host, self.config.kafka.port):
            return False
        try:
            admin = self._admin(timeout_ms=3000)
        except Exception:  # kafka-python raises KafkaError subclasses and OSErrors alike
            return False
        try:
            admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            admin.close()

    def after_start(self) -> None:
        """Create the configured topics that do not exist yet (``partitions`` from the
        config, replication factor 1) and return once the broker lists them all.

        Idempotent: existing topics are left as they are (their partition count is not
        changed). Raises :class:`RuntimeError` if they do not show up within 30 s.
        """
        wanted = list(self.config.kafka.topics)
        admin = self._admin(timeout_ms=30_000)
        try:
            existing = set(admin.list_topics())
            for topic in wanted:
                if topic in existing:
                    continue
                # One request per topic: kafka-python raises on the first topic error,
                # and another `stack up` may have created a topic meanwhile.
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics(
                        [NewTopic(topic, self.config.kafka.partitions, 1)], timeout_ms=10_000
                    )
            # CreateTopics returns once the controller committed the topic; the broker's
            # metadata cache follows a moment later.
            deadline = time.monotonic() + 30.0
            while True:
                missing = set(wanted) - set(admin.list_topics())
                if not missing:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kafka topics not visible after creation: {missing}")
                time.sleep(0.2)
        finally:
            admin.close()
