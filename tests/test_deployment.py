"""The docker-compose stack: valid as `docker compose config` reads it, with the services,
health checks and start-up order the README promises, secrets kept out of the image's build
context, and settings that compose and .env.example set are read by the app.

No Docker engine runs the stack here: tests/stack/test_proxy.py runs its front (nginx with
deploy/nginx.conf.template in front of gunicorn) with real processes instead.
"""

import fnmatch
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
APP_SERVICES = {"migrate", "web", "worker", "beat"}
LONG_RUNNING = {"postgres", "redis", "web", "worker", "beat", "proxy"}
# What a user puts in .env.example's two empty lines, as its comment says.
SECRET_KEY = secrets.token_urlsafe(50)


def compose_command() -> list[str]:
    """`docker compose` (v2) when the client has it, else `docker-compose` (v1, Debian's)."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    assert legacy, (
        "neither `docker compose` nor `docker-compose` is installed (.ci/run installs it)"
    )
    return [legacy]


def env_example_filled(**values: str) -> str:
    """.env.example as a user fills it in: the required empty values given."""
    text = (ROOT / ".env.example").read_text()
    for name, value in values.items():
        text, n = re.subn(rf"^{name}=$", f"{name}={value}", text, flags=re.MULTILINE)
        assert n == 1, f"{name}= is not an empty line of .env.example"
    return text


def compose_project(tmp_path: Path, env_text: str) -> Path:
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    (tmp_path / ".env").write_text(env_text)
    return tmp_path


def run_config(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*compose_command(), "config"], cwd=project, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> dict:
    """The stack as compose resolves it from .env.example with its two secrets filled in."""
    project = compose_project(
        tmp_path_factory.mktemp("compose"),
        env_example_filled(SECRET_KEY=SECRET_KEY, POSTGRES_PASSWORD="pw123"),
    )
    result = run_config(project)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_stack_has_its_services(config):
    assert set(config["services"]) == LONG_RUNNING | {"migrate"}


def test_web_worker_and_beat_start_after_the_migrations_succeeded(config):
    services = config["services"]
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert "migrate" not in " ".join(services[name]["command"]), name
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_every_long_running_service_has_a_healthcheck(config):
    for name in LONG_RUNNING:
        test = config["services"][name].get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"
    # The one-shot migrate service is healthy by exiting 0, which the others wait for.
    assert "healthcheck" not in config["services"]["migrate"]


def test_app_services_read_env_file_and_get_the_stack_addresses(raw, config):
    for name in APP_SERVICES:
        assert raw["services"][name]["env_file"] == ".env", name
        env = config["services"][name]["environment"]
        assert env["DATABASE_URL"] == "postgres://conflictwatch:pw123@postgres:5432/conflictwatch"
        assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        # Rate limits counted once across all gunicorn workers and web containers.
        assert env["CACHE_URL"] == "redis://redis:6379/1"
        assert env["DEBUG"] == "false"
        assert env["SECRET_KEY"] == SECRET_KEY
        assert env["CSRF_TRUSTED_ORIGINS"] == "https://conflictwatch.example.com"


def test_only_the_proxy_is_published_and_gunicorn_sits_behind_it(config):
    services = config["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    (port,) = services["proxy"]["ports"]
    assert str(port["target"] if isinstance(port, dict) else port).endswith("80")
    command = " ".join(services["web"]["command"])
    assert command.startswith("gunicorn monitor.wsgi") and "--bind=0.0.0.0:8000" in command


def test_the_proxy_runs_the_repository_template_with_every_variable_set(raw, config):
    proxy = config["services"]["proxy"]
    (volume,) = raw["services"]["proxy"]["volumes"]
    source, target, _ = volume.split(":")
    assert Path(ROOT, source).resolve() == ROOT / "deploy" / "nginx.conf.template"
    assert target == "/etc/nginx/templates/default.conf.template"
    template = (ROOT / "deploy" / "nginx.conf.template").read_text()
    needed = set(re.findall(r"\$\{([A-Z_]+)\}", template))
    assert needed and needed <= set(proxy["environment"]), needed - set(proxy["environment"])
    assert proxy["environment"]["CONFLICTWATCH_UPSTREAM"] == "web:8000"


def test_postgres_and_redis_keep_their_data_in_volumes(config):
    assert {"pgdata", "redisdata"} <= set(config["volumes"])
    mounts = {
        name: [v["source"] if isinstance(v, dict) else v.split(":")[0] for v in s["volumes"]]
        for name, s in config["services"].items()
        if name in ("postgres", "redis")
    }
    assert "pgdata" in mounts["postgres"] and "redisdata" in mounts["redis"]


def test_compose_refuses_to_start_without_a_postgres_password(tmp_path):
    project = compose_project(tmp_path, env_example_filled(SECRET_KEY=SECRET_KEY))
    result = run_config(project)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_the_image_runs_as_an_unprivileged_user():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")


def dockerignored(patterns: list[str], path: str) -> bool:
    """Whether Docker leaves `path` out of the build context: a pattern matches the path or a
    folder above it, `**` any depth, `!` takes a path back in, and the last match wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        keep = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        variants = {pattern, pattern.removeprefix("**/")}
        if any(fnmatch.fnmatchcase(c, v) for c in candidates for v in variants):
            excluded = not keep
    return excluded


def test_the_build_context_leaves_out_secrets_and_local_state():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in (
        ".env",
        ".env.production",
        ".venv/bin/python",
        ".git/HEAD",
        "node_modules/chart.js/package.json",
        "conflictwatch.sqlite3",
        "conflictwatch.sqlite3-wal",
        "backup-2026-11-25.dump",
        "staticfiles/monitor/app.css",
        "monitor/__pycache__/settings.cpython-311.pyc",
    ):
        assert dockerignored(patterns, path), f"{path} would be in the image"
    for path in (
        "manage.py",
        "monitor/settings.py",
        "ingest/models.py",
        "templates/base.html",
        "static/monitor/js/charts.js",
        "deploy/healthcheck.py",
        "pyproject.toml",
        "package-lock.json",
    ):
        assert not dockerignored(patterns, path), f"{path} is missing from the image"


def test_every_variable_the_stack_sets_is_read_by_the_settings(config):
    settings = (ROOT / "monitor" / "settings.py").read_text()
    compose_only = {"POSTGRES_PASSWORD"}  # read by compose itself, for Postgres and the URL
    for name in config["services"]["web"]["environment"]:
        if name not in compose_only:
            assert f'"{name}"' in settings, f"{name} reaches the app but is never read"


def test_env_example_lists_every_setting():
    settings = (ROOT / "monitor" / "settings.py").read_text()
    example = (ROOT / ".env.example").read_text()
    for name in set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', settings)):
        assert name in example, f"{name} is missing from .env.example"


def run_app(env: dict, *args: str) -> subprocess.CompletedProcess:
    """manage.py in a fresh process with exactly `env` (plus PATH), as a container runs it."""
    import os
    import sys

    base = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "monitor.settings"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_production_values(config):
    # Exactly what the web container gets: .env.example's values plus compose's addresses.
    env = config["services"]["web"]["environment"]
    result = run_app(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stderr


def test_check_deploy_warns_when_a_production_setting_is_missing(config):
    env = dict(config["services"]["web"]["environment"])
    del env["CACHE_URL"], env["SECURE_HSTS_SECONDS"]
    result = run_app(env, "check", "--deploy")
    assert "conflictwatch.W001" in result.stderr and "security.W004" in result.stderr


def test_the_app_refuses_to_start_with_debug_off_and_no_secret_key():
    for args in (("check",), ("shell", "-c", "import monitor.wsgi")):
        result = run_app({"DEBUG": "0"}, *args)
        assert result.returncode != 0
        assert "SECRET_KEY is not set" in result.stderr
    result = run_app({"DEBUG": "false", "SECRET_KEY": ""}, "check")
    assert result.returncode != 0 and "SECRET_KEY is not set" in result.stderr


def test_the_secret_key_may_come_from_a_file(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("s" * 20 + "ecret-from-a-file-" + "x" * 20)
    result = run_app(
        {"DEBUG": "0", "SECRET_KEY_FILE": str(key_file)},
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == key_file.read_text()


def test_with_nothing_set_it_runs_as_the_demo_with_a_key_of_its_own():
    script = "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)"
    first = run_app({}, "shell", "-c", script)
    second = run_app({}, "shell", "-c", script)
    assert first.returncode == 0, first.stderr
    debug, key = first.stdout.splitlines()[-1].split()
    assert debug == "True" and len(key) >= 50
    # Never a key written in the code: each process makes its own.
    assert key != second.stdout.splitlines()[-1].split()[1]
    assert key not in (ROOT / "monitor" / "settings.py").read_text()


def test_the_wsgi_module_loads_every_view_without_reaching_the_database():
    # gunicorn preloads it in the master (gunicorn.conf.py): the workers fork with the views
    # loaded, and with no database connection to share. Nothing listens on port 9.
    check = (
        "import sys, monitor.wsgi; from django.db import connection; "
        "assert 'ingest.views' in sys.modules and 'monitor.api.urls' in sys.modules; "
        "assert connection.connection is None; print('loaded')"
    )
    result = run_app(
        {"DEBUG": "1", "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none"}, "shell", "-c", check
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "loaded"
