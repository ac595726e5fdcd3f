"""The documented front run for real: nginx with deploy/nginx.conf.template (the file
docker-compose.yml mounts), its values filled in as the nginx image's entrypoint does."""

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import httpx

from tests.stack.stack import ROOT, free_port, wait_for

TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
# What the nginx image's own nginx.conf provides around conf.d: processes, logs, temp files.
MAIN = """
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
    access_log {tmp}/nginx-access.log;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    include {tmp}/conflictwatch.conf;
}}
"""


def render(template: str, values: dict[str, str]) -> str:
    """Fill ${NAME} as the nginx image does (envsubst); every one must have a value."""
    missing = set(re.findall(r"\$\{(\w+)\}", template)) - set(values)
    assert not missing, f"no value for {missing}"
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template)


class Nginx:
    def __init__(self, tmp: Path, upstream: str, max_body_bytes: int = 20 * 1024 * 1024):
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = render(
            TEMPLATE.read_text(),
            {
                "CONFLICTWATCH_UPSTREAM": upstream,
                "CONFLICTWATCH_PROXY_PORT": f"127.0.0.1:{self.port}",
                "CONFLICTWATCH_MAX_BODY_BYTES": str(max_body_bytes),
            },
        )
        (tmp / "conflictwatch.conf").write_text(conf)
        # As root, nginx's workers would switch to an account that cannot write in tmp.
        user = "user root;" if os.geteuid() == 0 else ""
        (tmp / "nginx.conf").write_text(MAIN.format(tmp=tmp, user=user))
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Nginx":
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen(
            [binary, "-c", str(self.tmp / "nginx.conf"), "-p", str(self.tmp), "-e", "stderr"],
            stdout=open(self.tmp / "nginx.out", "ab"),  # noqa: SIM115 - open while it runs
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._up, 10, "nginx")
        return self

    def _up(self) -> bool:
        assert self.proc.poll() is None, (self.tmp / "nginx.out").read_text()
        try:
            return httpx.get(self.url + "/.proxy-health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
