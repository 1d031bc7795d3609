"""A second local Kafka whose only client listener is SASL_SSL (SCRAM-SHA-512), for the security tests.

It runs from the same jars as scripts/kafka.sh (``$KAFKA_HOME/lib``, default ``.kafka/lib``), as its own
KRaft process on free ports, with its data, configuration and certificates in a temporary folder: a CA
and a broker certificate for 127.0.0.1 made with ``openssl``, the broker's keystore and truststore with
``keytool``, and the SCRAM users written into the storage when it is formatted.
"""
from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from bench.process import free_port, stop_process
from convoflow.contract.config import Settings
from convoflow.contract.topics import check_connection

ROOT = Path(__file__).resolve().parents[2]
USER, PASSWORD = "convoflow", "s3cret-Passw0rd"
BROKER_USER, BROKER_PASSWORD = "broker", "broker-Passw0rd"
STORE_PASSWORD = "store-Passw0rd"


def kafka_lib() -> Path:
    home = Path(os.environ.get("KAFKA_HOME", ROOT / ".kafka"))
    return (home if home.is_absolute() else ROOT / home) / "lib"


def run(*cmd: str, cwd: Path) -> None:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def make_ca(folder: Path, name: str) -> Path:
    """A self-signed CA (``<name>.key``, ``<name>.pem``); returns the certificate."""
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
        "-keyout", f"{name}.key", "-out", f"{name}.pem",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    return folder / f"{name}.pem"


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, broker keystore, truststore): the broker's certificate is for 127.0.0.1 and localhost."""
    ca = make_ca(folder, "ca")
    (folder / "broker.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "broker.key", "-out", "broker.csr", cwd=folder)
    run("openssl", "x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "broker.ext", "-out", "broker.pem", cwd=folder)
    run("openssl", "pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key", "-certfile", "ca.pem",
        "-name", "broker", "-out", "broker.p12", "-passout", f"pass:{STORE_PASSWORD}", cwd=folder)
    run("keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", "ca.pem", "-keystore", "truststore.p12",
        "-storetype", "PKCS12", "-storepass", STORE_PASSWORD, cwd=folder)
    return ca, folder / "broker.p12", folder / "truststore.p12"


class SecureBroker:
    """Start with ``start()``, stop with ``stop()``; ``env`` is what convoflow needs to connect to it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port, self.controller_port = free_port(), free_port()
        self.url = f"kafka://127.0.0.1:{self.port}"
        self.log_path = folder / "broker.log"
        self.proc: subprocess.Popen | None = None
        self.ca: Path | None = None

    @property
    def env(self) -> dict[str, str]:
        return {
            "CONVOFLOW_BROKER": self.url, "CONVOFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "CONVOFLOW_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "CONVOFLOW_KAFKA_SASL_USERNAME": USER,
            "CONVOFLOW_KAFKA_SASL_PASSWORD": PASSWORD, "CONVOFLOW_KAFKA_SSL_CAFILE": str(self.ca),
        }

    def java(self, *args: str, heap: str = "-Xmx256m") -> list[str]:
        return ["java", heap, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.folder / 'log4j2.properties'}", "-cp", f"{kafka_lib()}/*", *args]

    def write_config(self, keystore: Path, truststore: Path) -> Path:
        scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required ' \
                f'username="{BROKER_USER}" password="{BROKER_PASSWORD}";'
        config = self.folder / "server.properties"
        config.write_text(f"""\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}
listeners=SASL_SSL://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}
advertised.listeners=SASL_SSL://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={scram}
ssl.keystore.type=PKCS12
ssl.keystore.location={keystore}
ssl.keystore.password={STORE_PASSWORD}
ssl.key.password={STORE_PASSWORD}
ssl.truststore.type=PKCS12
ssl.truststore.location={truststore}
ssl.truststore.password={STORE_PASSWORD}
ssl.client.auth=none
log.dirs={self.folder / 'data'}
num.partitions=4
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
message.max.bytes=8388608
replica.fetch.max.bytes=8388608
""")
        (self.folder / "log4j2.properties").write_text(
            "status = warn\nappender.out.type = Console\nappender.out.name = OUT\n"
            "appender.out.layout.type = PatternLayout\nappender.out.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = WARN\nrootLogger.appenderRef.out.ref = OUT\n")
        return config

    def start(self, timeout: float = 120) -> None:
        if not any(kafka_lib().glob("kafka_2.13-*.jar")):
            raise RuntimeError(f"no Kafka jars in {kafka_lib()}: run `scripts/kafka.sh fetch` (make test does)")
        for tool in ("openssl", "keytool", "java"):
            if not shutil.which(tool):
                raise RuntimeError(f"{tool} is needed to run a SASL_SSL broker")
        self.ca, keystore, truststore = make_certificates(self.folder)
        config = self.write_config(keystore, truststore)
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        run(*self.java("kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id, "-c", str(config),
                       "--add-scram", f"SCRAM-SHA-512=[name={BROKER_USER},password={BROKER_PASSWORD}]",
                       "--add-scram", f"SCRAM-SHA-512=[name={USER},password={PASSWORD}]"), cwd=self.folder)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.java("kafka.Kafka", str(config), heap="-Xmx512m"), stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.folder)
        log.close()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        """Until a client with the right credentials connects (certificate, SCRAM user and all) and the
        broker has a group coordinator (a worker that asks earlier logs errors while it waits)."""
        settings = Settings.from_environ(self.env)

        async def ready():
            await check_connection(settings, timeout=5)
            admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, **settings.kafka_kwargs())
            await admin.start()
            try:
                await admin.find_coordinator("convoflow-warm-up")
            finally:
                await admin.close()

        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the SASL_SSL broker exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                asyncio.run(ready())
                return
            except Exception as exc:  # not up yet
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the SASL_SSL broker did not accept {USER} within {timeout:.0f} s ({exc}):\n"
                                       f"{self.log()[-3000:]}") from None
                time.sleep(0.5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        stop_process(self.proc)
