"""The Compose setup and the image, checked as data (no Docker engine needed): the service
next to Kafka, volumes where the data is, nothing secret in the build context."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:  # type: ignore[type-arg]
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _mounts(service: dict) -> dict[str, str]:  # type: ignore[type-arg]
    """target -> source of a service's volumes."""
    out = {}
    for entry in service.get("volumes", []):
        source, target, *_ = entry.split(":")
        out[target] = source
    return out


def test_kafka_keeps_its_data_on_the_volume() -> None:
    compose = _compose()
    kafka = compose["services"]["kafka"]
    log_dirs = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert _mounts(kafka)[log_dirs] in compose["volumes"]


def test_the_service_runs_next_to_kafka() -> None:
    compose = _compose()
    service = compose["services"]["lineage"]
    assert service["command"][0] == "serve"
    assert service["build"]["dockerfile"] == "Dockerfile"
    assert (ROOT / service["build"]["dockerfile"]).is_file()
    env = service["environment"]
    assert env["LINEAGE_LOG"] == "kafka"
    assert env["LINEAGE_KAFKA_BOOTSTRAP"].split(":")[0] in compose["services"]
    home = env["LINEAGE_HOME"]
    assert _mounts(service)[home] in compose["volumes"]  # a named volume, not the image
    port = service["command"][service["command"].index("--port") + 1]
    assert any(p.endswith(f":{port}") for p in service["ports"])
    assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert "secret" not in str(env).lower()


def test_nothing_secret_or_local_goes_into_the_image() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for pattern in (".venv", ".lineage", "**/pseudonym.key", "*.key", "**/tokens.json"):
        assert pattern in ignored
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY . ." not in dockerfile  # only the package's sources
    assert "USER lineage" in dockerfile
