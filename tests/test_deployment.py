"""The docker-compose stack stays valid and in step with the settings."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_docker_compose_config_is_valid():
    result = subprocess.run(
        ["docker-compose", "config", "-q"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_every_variable_compose_sets_is_read_by_the_settings():
    compose = (ROOT / "docker-compose.yml").read_text()
    settings = (ROOT / "monitor" / "settings.py").read_text()
    block = compose.split("environment: &app-env", 1)[1].split("depends_on:", 1)[0]
    names = re.findall(r"^\s+([A-Z][A-Z0-9_]+):", block, re.MULTILINE)
    assert "DATABASE_URL" in names and "CELERY_BROKER_URL" in names
    for name in names:
        assert f'"{name}"' in settings, f"{name} is set by docker-compose.yml but never read"


def test_env_example_lists_every_setting():
    settings = (ROOT / "monitor" / "settings.py").read_text()
    example = (ROOT / ".env.example").read_text()
    for name in set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', settings)):
        assert name in example, f"{name} is missing from .env.example"
