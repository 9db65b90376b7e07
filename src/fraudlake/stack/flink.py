"""Flink: a standalone session cluster, one JobManager and one TaskManager, run from the
Flink distribution that the apache-flink wheel carries (``flink_jobs/.venv/lib/
python3.11/site-packages/pyflink``: ``bin/``, ``lib/``, ``opt/``, ``conf/``), on Java 17.

The two processes are the distribution's own ``bin/jobmanager.sh start-foreground`` and
``bin/taskmanager.sh start-foreground``. In the foreground each script sources
``config.sh`` (which runs a few short-lived ``java`` helpers to read the configuration
and compute memory flags) and then execs ``flink-console.sh``, which execs the JVM: the
pid the process table records ends up being the JVM's, nothing daemonises, and the
session-wide kill of ``stack down`` reaches the JVM and the Python UDF workers the
TaskManager forks for running jobs.

Every listener of the cluster itself is on ``host`` with a pinned port (see
:meth:`FlinkService.flink_config`). Python functions run in ``thread`` mode (inside the
TaskManager JVM through pemja): several times faster for stateful functions than the
default ``process`` mode, whose Apache Beam runner would also open gRPC listeners for its
Python workers on random ports of every interface (Flink has no setting for their
address). Thread mode needs the PyFlink environment's site-packages on the TaskManager's
``PYTHONPATH``; :meth:`FlinkService.env` sets it.

The Kafka SQL connector, which the wheel does not ship, comes from Maven Central
(``infra/flink/pom.xml``, fetched into ``.tools/flink/lib`` by ``infra/flink/install.sh``,
which ``make install`` runs) and is listed in ``pipeline.jars``, so jobs submitted with
this cluster's configuration (``FLINK_CONF_DIR=<state>/flink/conf``) ship it.

State lives in ``<state>/flink``: ``conf/`` (our ``config.yaml`` plus the distribution's
log4j/logback files, rewritten by every :meth:`FlinkService.prepare`, so config changes
apply on the next start), ``logs/`` (the full JobManager and TaskManager logs; the
process logs that ``stack logs flink`` shows get warnings and errors only),
``checkpoints/``, ``savepoints/``, ``run/`` (the scripts' own pid files) and ``tmp/``
(blobs, web uploads, Python workers' files: what Flink would otherwise put in /tmp).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import yaml

from fraudlake.stack.install import install_root
from fraudlake.stack.process import ProcessSpec
from fraudlake.stack.service import Service

#: The connector jars, relative to the project root (see ``infra/flink/install.sh``).
CONNECTOR_DIR = Path(".tools/flink/lib")
#: The PyFlink environment ``make install`` builds from ``flink_jobs/pyproject.toml``.
FLINK_VENV = Path("flink_jobs/.venv")
#: The Java release the cluster runs on (Flink 2.2's default; 11 and 21 also work, but
#: one version everywhere keeps behaviour and flags predictable).
JAVA_MAJOR = 17
#: Where Debian (and most distributions) install JDKs/JREs.
JVM_DIR = Path("/usr/lib/jvm")
#: Fixed-delay restarts: effectively forever, 2 s apart, so a job rides out a TaskManager
#: restart and resumes from its latest checkpoint once slots are back.
RESTART_ATTEMPTS = 2_147_483_647
RESTART_DELAY = "2 s"
#: Files copied from the distribution's ``conf/`` into ours (the scripts name them).
LOGGING_FILES = ("log4j*.properties", "logback*.xml")


def _find_flink_home(root: Path) -> Path | None:
    """The ``pyflink`` package folder holding the distribution, if installed."""
    found = sorted((root / FLINK_VENV / "lib").glob("python3*/site-packages/pyflink"))
    homes = [p for p in found if (p / "bin" / "jobmanager.sh").exists()]
    return homes[0] if homes else None


def flink_home(root: Path | None = None) -> Path:
    """The Flink distribution inside the PyFlink environment
    (``<root>/flink_jobs/.venv/lib/python3*/site-packages/pyflink``).

    Raises :class:`RuntimeError` naming ``make install`` when it (or the environment's
    Python, which runs the jobs' UDFs) is missing.
    """
    root = root if root is not None else install_root()
    home = _find_flink_home(root)
    if home is None or not (root / FLINK_VENV / "bin" / "python").exists():
        raise RuntimeError(
            f"the Flink distribution (apache-flink's pyflink/bin/jobmanager.sh) was not found "
            f"in {root / FLINK_VENV}; run `make install` (it builds flink_jobs/.venv from "
            "flink_jobs/pyproject.toml)"
        )
    return home


def connector_jars(root: Path | None = None) -> list[Path]:
    """The jars in ``<root>/.tools/flink/lib`` (the Kafka SQL connector), sorted.

    Raises :class:`RuntimeError` naming ``make install`` when the folder or the
    connector is missing; install.sh only creates the folder once a fetch is complete.
    """
    lib = (root if root is not None else install_root()) / CONNECTOR_DIR
    jars = sorted(lib.glob("*.jar")) if lib.is_dir() else []
    if not any(j.name.startswith("flink-sql-connector-kafka-") for j in jars):
        raise RuntimeError(
            f"the Flink Kafka SQL connector jar was not found in {lib}; run `make install` "
            "(or `bash infra/flink/install.sh`, which fetches it from Maven Central)"
        )
    return jars


def _java_major(home: Path) -> int | None:
    """The major version a JDK/JRE home declares in its ``release`` file, if any."""
    try:
        text = (home / "release").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("JAVA_VERSION="):
            version = line.split("=", 1)[1].strip().strip('"')
            head = version.split(".")[0]
            # Java 8 and older called themselves 1.x
            head = version.split(".")[1] if head == "1" and "." in version else head
            return int(head) if head.isdigit() else None
    return None


def _find_java_home() -> Path | None:
    """The first Java 17 home among ``$JAVA_HOME``, the ``java`` on PATH and the homes
    in /usr/lib/jvm (the machine may default to another release)."""
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    on_path = shutil.which("java")
    if on_path:
        # /usr/bin/java -> /etc/alternatives/java -> <home>/bin/java
        candidates.append(Path(on_path).resolve().parents[1])
    if JVM_DIR.is_dir():
        candidates += sorted(JVM_DIR.iterdir())
    for home in candidates:
        if (home / "bin" / "java").exists() and _java_major(home) == JAVA_MAJOR:
            return home.resolve()
    return None


def java_home() -> Path:
    """A Java 17 home (see :func:`_find_java_home`); raises :class:`RuntimeError` naming
    the package to install when there is none."""
    home = _find_java_home()
    if home is None:
        raise RuntimeError(
            f"no Java {JAVA_MAJOR} found (JAVA_HOME, `java` on PATH, {JVM_DIR}); Flink runs on "
            f"Java {JAVA_MAJOR}: install the Debian package openjdk-{JAVA_MAJOR}-jre-headless "
            f"or point JAVA_HOME at a Java {JAVA_MAJOR} home"
        )
    return home


def _packaged_java_opts(home: Path) -> str:
    """``env.java.opts.all`` of the distribution's own ``conf/config.yaml``: the
    ``--add-opens``/``--add-exports`` flags Flink needs on Java 17, kept in step with the
    installed release instead of copied here. Empty when the file has none."""
    try:
        packaged = yaml.safe_load((home / "conf" / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return ""
    if "env.java.opts.all" in packaged:  # the flat spelling is valid too
        return str(packaged["env.java.opts.all"])
    node: Any = packaged
    for part in ("env", "java", "opts", "all"):
        node = node.get(part) if isinstance(node, dict) else None
    return str(node) if node else ""


class FlinkService(Service):
    name = "flink"
    # JobManager and TaskManager JVMs start in parallel, each after a few short java
    # helper runs of config.sh; ~10 s here. Room for slow machines.
    start_timeout = 90.0

    # -- paths --------------------------------------------------------------------------

    @property
    def conf_dir(self) -> Path:
        """``FLINK_CONF_DIR``: our ``config.yaml`` and the logging files."""
        return self.state_dir / "conf"

    @property
    def lib_dir(self) -> Path:
        """``FLINK_LIB_DIR``: links to the distribution's ``lib/`` jars plus
        ``opt/flink-python``, so the embedded Python (pemja) is loaded once per
        TaskManager by its own class loader, not again by each job's."""
        return self.state_dir / "lib"

    @property
    def log_dir(self) -> Path:
        """``FLINK_LOG_DIR``: the JobManager's and TaskManager's full logs."""
        return self.state_dir / "logs"

    @property
    def pid_dir(self) -> Path:
        """``FLINK_PID_DIR``: the scripts' own pid files (default /tmp, shared by all)."""
        return self.state_dir / "run"

    @property
    def tmp_dir(self) -> Path:
        """``io.tmp.dirs`` and ``web.tmpdir``: blobs, uploads, Python workers' files."""
        return self.state_dir / "tmp"

    @property
    def checkpoints_dir(self) -> Path:
        return self.state_dir / "checkpoints"

    @property
    def savepoints_dir(self) -> Path:
        return self.state_dir / "savepoints"

    @property
    def config_path(self) -> Path:
        return self.conf_dir / "config.yaml"

    def ports(self) -> dict[str, int]:
        f = self.config.flink
        return {
            "rest": f.rest_port,
            "rpc": f.rpc_port,
            "blob": f.blob_port,
            "taskmanager rpc": f.taskmanager_rpc_port,
            "taskmanager data": f.taskmanager_data_port,
            "jobmanager metrics": f.jobmanager_metrics_port,
            "taskmanager metrics": f.taskmanager_metrics_port,
        }

    def urls(self) -> dict[str, str]:
        return {"Flink UI": self.config.flink_url}

    # -- configuration ------------------------------------------------------------------

    def flink_config(self, java_opts: str = "") -> dict[str, object]:
        """The cluster's ``config.yaml`` as flat Flink keys (Flink 2 reads the flat and the
        nested YAML spelling alike). ``java_opts``: ``env.java.opts.all``, the JVM flags
        the distribution needs (see :func:`_packaged_java_opts`).

        Key names are those of Flink 2.2 (the ``*Options`` classes in flink-dist 2.2.1 and
        flink-python 2.2.1); 1.x names such as ``state.checkpoints.dir`` are only
        deprecated aliases there.
        """
        host, f = self.config.host, self.config.flink
        root = install_root()
        java = _find_java_home()
        conf: dict[str, object] = {}
        if java is not None:
            # config.sh reads this flat key before anything else: jobs submitted with this
            # FLINK_CONF_DIR (`flink run`) get Java 17 too, not the machine's default java.
            conf["env.java.home"] = str(java)
        if java_opts:
            conf["env.java.opts.all"] = java_opts
        # The console appender (the process log under <state>/logs) only gets warnings and
        # errors; the full log goes to logs/ in our folder (log4j-console.properties reads
        # this system property).
        conf["env.java.opts.jobmanager"] = "-Dconsole.log.level=WARN"
        conf["env.java.opts.taskmanager"] = "-Dconsole.log.level=WARN"
        conf |= {
            # Every listener on host: Flink binds 0.0.0.0 unless told otherwise.
            "jobmanager.rpc.address": host,
            "jobmanager.rpc.port": f.rpc_port,
            "jobmanager.bind-host": host,
            "taskmanager.host": host,
            "taskmanager.bind-host": host,
            "rest.address": host,
            "rest.bind-address": host,
            "rest.port": f.rest_port,
            # Random by default; pinned so `stack status` lists them and a clash is seen
            # before start. The string-typed ones accept ranges, hence str.
            "blob.server.port": str(f.blob_port),
            "taskmanager.rpc.port": str(f.taskmanager_rpc_port),
            "taskmanager.data.port": f.taskmanager_data_port,
            # (metrics.internal.query-service.port differs per process: see processes())
            # Both JVMs start together and the TaskManager is ready first; its failed
            # first registration would otherwise wait the default 10 s before retrying.
            "cluster.registration.error-delay": "1 s",
            "jobmanager.memory.process.size": f.jobmanager_memory,
            "taskmanager.memory.process.size": f.taskmanager_memory,
            "taskmanager.numberOfTaskSlots": f.task_slots,
            "parallelism.default": 1,
            # Exactly-once checkpoints on the local file system, kept when a job is
            # cancelled or the cluster stops, so a job can be resumed from them.
            "execution.checkpointing.storage": "filesystem",
            "execution.checkpointing.dir": self.checkpoints_dir.as_uri(),
            "execution.checkpointing.savepoint-dir": self.savepoints_dir.as_uri(),
            "execution.checkpointing.interval": f"{round(f.checkpoint_interval_s * 1000)} ms",
            "execution.checkpointing.mode": "EXACTLY_ONCE",
            "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
            # A TaskManager that dies is noticed in seconds, not after the default 50 s
            # heartbeat timeout; the job then waits for slots and restores.
            "heartbeat.interval": "2 s",
            "heartbeat.timeout": "10 s",
            "restart-strategy.type": "fixed-delay",
            "restart-strategy.fixed-delay.attempts": RESTART_ATTEMPTS,
            "restart-strategy.fixed-delay.delay": RESTART_DELAY,
            # The PyFlink environment runs the jobs' Python (client side and UDF workers).
            "python.executable": str(root / FLINK_VENV / "bin" / "python"),
            "python.client.executable": str(root / FLINK_VENV / "bin" / "python"),
            "python.execution-mode": "thread",
            # …and from the TaskManager's class loader for every job (see lib_dir).
            "classloader.parent-first-patterns.additional": ["pemja."],
            "pipeline.jars": [jar.as_uri() for jar in self._jars_or_empty(root)],
            # No Kerberos/Hadoop here: without this the token manager logs three
            # warnings per start into the short process log.
            "security.delegation.tokens.enabled": False,
            # Temporary files in our folder, not scattered in /tmp.
            "io.tmp.dirs": str(self.tmp_dir),
            "web.tmpdir": str(self.tmp_dir),
        }
        return conf

    @staticmethod
    def _jars_or_empty(root: Path) -> list[Path]:
        try:
            return connector_jars(root)
        except RuntimeError:
            return []

    def _write_config(self, java_opts: str) -> None:
        body = yaml.safe_dump(self.flink_config(java_opts), sort_keys=False, width=1_000_000)
        self.config_path.write_text(
            "# Written by fraudlake.stack.flink on every start; edits are overwritten.\n"
            "# Change infra/stack.yaml (section flink) instead.\n" + body
        )

    def env(self) -> dict[str, str]:
        """The environment of the scripts: our conf, log and pid folders, Java 17."""
        env = {
            "FLINK_CONF_DIR": str(self.conf_dir),
            "FLINK_LOG_DIR": str(self.log_dir),
            "FLINK_PID_DIR": str(self.pid_dir),
            "FLINK_LIB_DIR": str(self.lib_dir),
            # The log files' names: flink-fraudlake-<component>-<n>-<host>.log
            "FLINK_IDENT_STRING": "fraudlake",
        }
        java = _find_java_home()
        if java is not None:
            env["JAVA_HOME"] = str(java)
        home = _find_flink_home(install_root())
        if home is not None:
            # Thread mode embeds the interpreter in the JVM, which does not read the
            # environment's site-packages by itself.
            env["PYTHONPATH"] = str(home.parent)
        return env

    # -- lifecycle ----------------------------------------------------------------------

    def prepare(self) -> None:
        """Create the state folders, copy the distribution's logging files into ``conf/``
        and write ``conf/config.yaml`` from the stack config.

        Idempotent (everything in ``conf/`` is rewritten, data folders are kept). Raises
        :class:`RuntimeError` naming the fix when the distribution, the connector jar or
        Java 17 is missing.
        """
        home = flink_home()
        connector_jars()
        java_home()
        for folder in (
            self.conf_dir,
            self.log_dir,
            self.pid_dir,
            self.tmp_dir,
            self.checkpoints_dir,
            self.savepoints_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        # pemja loads libpython into the JVM once; a second job's class loader could not
        # load it again ("NoSuchFieldException: loadedLibraryNames" on Java 17).
        shutil.rmtree(self.lib_dir, ignore_errors=True)
        self.lib_dir.mkdir(parents=True)
        for jar in [*(home / "lib").glob("*.jar"), *(home / "opt").glob("flink-python-*.jar")]:
            (self.lib_dir / jar.name).symlink_to(jar)
        for pattern in LOGGING_FILES:
            for source in (home / "conf").glob(pattern):
                shutil.copyfile(source, self.conf_dir / source.name)
        self._write_config(_packaged_java_opts(home))

    def processes(self) -> list[ProcessSpec]:
        """JobManager, then TaskManager (which retries until the JobManager answers).

        Never raises for a missing installation (status and stop need the names);
        :meth:`prepare`, which runs before any start, does.
        """
        root = install_root()
        home = _find_flink_home(root)
        bin_dir = (home if home is not None else root / FLINK_VENV) / "bin"
        env = self.env()
        f = self.config.flink

        def script(name: str, metrics_port: int) -> list[str]:
            # bash explicitly: a wheel's files need not keep their executable bits. The
            # -D is passed through to the entry point; the query service's port is the
            # one setting that must differ between the two processes.
            return [
                "bash",
                str(bin_dir / name),
                "start-foreground",
                "-D",
                f"metrics.internal.query-service.port={metrics_port}",
            ]

        return [
            ProcessSpec(
                "flink-jobmanager",
                script("jobmanager.sh", f.jobmanager_metrics_port),
                env=env,
                cwd=self.state_dir,
            ),
            ProcessSpec(
                "flink-taskmanager",
                script("taskmanager.sh", f.taskmanager_metrics_port),
                env=env,
                cwd=self.state_dir,
            ),
        ]

    def overview(self) -> dict[str, Any] | None:
        """The JobManager's ``/overview`` (task managers, slots, jobs), None when it does
        not answer with one within 2 s. Never raises."""
        try:
            response = httpx.get(f"{self.config.flink_url}/overview", timeout=2.0)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def healthy(self) -> bool:
        """True when the JobManager answers and a TaskManager with slots has registered."""
        overview = self.overview()
        if overview is None:
            return False
        return int(overview.get("taskmanagers", 0)) >= 1 and int(overview.get("slots-total", 0)) > 0
