"""The deployment files hold together: lockfiles, Python line, Dockerfile, compose.yaml, Procfile, gunicorn.

No container runtime is needed: the Dockerfile is parsed, its entrypoint's shell is run against stand-in
commands, and compose.yaml is read with PyYAML and checked against the Dockerfile, the settings and the
emulator's own command line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from app.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
PINNED = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;]+)")


def _lock(name: str) -> dict[str, str]:
    """name -> version of every requirement in a lockfile; each one must carry hashes."""
    text = (ROOT / name).read_text()
    pins: dict[str, str] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[-1]):
        first = block.strip().splitlines()[0] if block.strip() else ""
        if not first or first.startswith("#"):
            continue
        match = PINNED.match(first)
        assert match, f"{name}: not pinned with ==: {first}"
        assert "--hash=sha256:" in block, f"{name}: {match.group(1)} has no hash"
        pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_the_lockfiles_pin_every_dependency_with_hashes():
    runtime, dev = _lock("requirements.lock"), _lock("requirements-dev.lock")
    project = _pyproject()["project"]
    assert _names(project["dependencies"]) <= set(runtime)
    assert _names(project["dependencies"] + project["optional-dependencies"]["dev"]) <= set(dev)
    # The dev lock is compiled with the runtime lock as its constraint: the same versions everywhere.
    assert {name: dev[name] for name in runtime} == runtime
    assert not {"pytest", "ruff", "playwright", "uv"} & set(runtime)


def test_a_buildpack_finds_the_lock_and_the_python_line():
    assert (ROOT / ".python-version").read_text().strip() == "3.11"
    lines = [
        line for line in (ROOT / "requirements.txt").read_text().splitlines() if not line.startswith("#")
    ]
    assert [line for line in lines if line.strip()] == ["-r requirements.lock"]
    assert _pyproject()["project"]["requires-python"] == ">=3.11"


def test_make_installs_from_the_lock_and_can_regenerate_it():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^\$\(STAMP\):(.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "the venv stamp rule is missing"
    assert "requirements-dev.lock" in recipe.group(1) and "pyproject.toml" in recipe.group(1)
    assert "install --quiet --require-hashes -r requirements-dev.lock" in recipe.group(2)
    assert "install --quiet --no-deps -e ." in recipe.group(2)
    lock = re.search(r"^lock:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert lock and "--generate-hashes" in makefile
    assert "-o requirements.lock" in lock.group(1) and "-o requirements-dev.lock" in lock.group(1)


# --- Dockerfile -------------------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for word, rest in _instructions():
        if word == "FROM":
            name = rest.split(" AS ")[-1] if " AS " in rest else rest
            current = stages.setdefault(name, [])
        current.append((word, rest))
    return stages


def test_the_base_image_is_pinned_to_the_projects_python():
    args = dict(rest.split("=", 1) for word, rest in _instructions() if word == "ARG" and "=" in rest)
    image = args["PYTHON_IMAGE"]
    match = re.fullmatch(r"python:(\d+\.\d+)\.\d+-slim-(\w+)@sha256:[0-9a-f]{64}", image)
    assert match, f"base image not pinned by patch release and digest: {image}"
    assert match.group(1) == (ROOT / ".python-version").read_text().strip()
    froms = [rest for word, rest in _instructions() if word == "FROM"]
    assert froms[0] == "${PYTHON_IMAGE} AS base"
    assert all(f.split(" AS ")[0] in ("${PYTHON_IMAGE}", "base") for f in froms)


def test_the_images_install_from_the_lock_with_hashes_and_run_unprivileged():
    stages = _stages()
    assert set(stages) == {"base", "emulator", "app"}
    installs = [rest for word, rest in stages["base"] if word == "RUN" and "pip install" in rest]
    assert installs == ["pip install --require-hashes --only-binary=:all: -r requirements.lock"]
    assert not any("pip install" in rest for word, rest in stages["app"] if word == "RUN")
    for name in ("app", "emulator"):
        users = [rest for word, rest in stages[name] if word == "USER"]
        assert users and users[-1].split(":")[0] not in ("0", "root"), f"{name} runs as root"
    useradd = next(rest for word, rest in stages["base"] if word == "RUN" and "useradd" in rest)
    assert "--uid 10001" in useradd


def test_everything_the_images_copy_exists_and_is_not_ignored():
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for word, rest in _instructions():
        if word != "COPY":
            continue
        *sources, _target = rest.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: missing"
            assert source.rstrip("/") not in ignored, f"COPY {source}: excluded by .dockerignore"
    for secret in (".git", ".venv", "instance", "tests", ".env"):
        assert secret in ignored


def _entrypoint() -> list[str]:
    return json.loads(next(rest for word, rest in _stages()["app"] if word == "ENTRYPOINT"))


@pytest.mark.parametrize(
    "process,expected",
    [
        ("web", "gunicorn app:create_app()"),
        ("worker", "flask worker"),
        ("syncer", "flask sync"),
        ("release", "flask db upgrade"),
        ("flask", "flask inbox"),  # anything else runs as given
    ],
)
def test_the_entrypoint_runs_each_process_type(tmp_path, process, expected):
    """The ENTRYPOINT's own shell script, run with stand-ins for gunicorn and flask that print their argv."""
    for tool in ("gunicorn", "flask"):
        stub = tmp_path / tool
        stub.write_text(f'#!/bin/sh\necho {tool} "$@"\n')
        stub.chmod(0o755)
    argv = [*_entrypoint(), process] + (["inbox"] if process == "flask" else [])
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    out = subprocess.run(argv, capture_output=True, text=True, env=env, check=True, timeout=10)
    assert out.stdout.strip() == expected
    assert [rest for word, rest in _stages()["app"] if word == "CMD"] == ['["web"]']


def test_the_commands_behind_the_process_types_exist(app):
    runner = app.test_cli_runner()
    for args in (
        ["worker", "--help"],
        ["sync", "--help"],
        ["db", "upgrade", "--help"],
        ["heartbeat", "--help"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, f"flask {' '.join(args)}: {result.output}"


# --- compose.yaml -----------------------------------------------------------------------------------------


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _interpolated(value: str) -> str:
    """Compose's ${NAME:-default} with nothing set in the shell."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def _env(service: dict) -> dict[str, str]:
    return {k: _interpolated(str(v)) for k, v in (service.get("environment") or {}).items()}


def test_compose_runs_each_process_type_after_the_migrations():
    services = _compose()["services"]
    assert set(services) == {"postgres", "release", "web", "worker", "syncer", "emulator"}
    assert services["release"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["release"]["restart"] == "no"
    for name in ("web", "worker", "syncer", "release"):
        assert services[name]["command"] == [name]
        assert services[name]["build"] == {"context": ".", "target": "app"}
    for name in ("web", "worker", "syncer"):
        assert services[name]["depends_on"]["release"] == {"condition": "service_completed_successfully"}
    assert services["emulator"]["build"]["target"] == "emulator"
    targets = {rest.split(" AS ")[1] for word, rest in _instructions() if word == "FROM"}
    assert {s["build"]["target"] for s in services.values() if "build" in s} <= targets


def test_every_long_running_service_has_a_healthcheck():
    services = _compose()["services"]
    for name in ("postgres", "web", "worker", "syncer", "emulator"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and check["interval"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "flask", "heartbeat", "worker", "--here"]
    assert services["syncer"]["healthcheck"]["test"] == ["CMD", "flask", "heartbeat", "syncer", "--here"]


def _setting_names() -> set[str]:
    source = (ROOT / "app" / "config.py").read_text()
    return set(re.findall(r'get\("([A-Z_]+)"\)', source))


def test_compose_sets_only_variables_the_app_reads_and_they_load():
    services = _compose()["services"]
    gunicorn = {"WEB_CONCURRENCY", "WEB_THREADS", "PORT"}
    for name in ("release", "web", "worker", "syncer"):
        env = _env(services[name])
        unknown = set(env) - _setting_names() - gunicorn
        assert unknown == set(), f"{name} sets variables nothing reads: {unknown}"
        settings = load_settings(env)
        assert (
            settings.database_url.startswith("postgresql+psycopg://")
            and "@postgres:5432/" in settings.database_url
        )
        assert settings.log_format == "json"
        assert settings.admin_origin == "http://localhost:9292"


def test_the_emulator_shares_the_apps_secret_and_network_and_its_arguments_parse():
    from emulator.__main__ import parse_args

    services = _compose()["services"]
    env = _env(services["web"])
    args = parse_args([_interpolated(a) for a in services["emulator"]["command"]])
    assert (args.api_key, args.api_secret) == (env["SHOPIFY_API_KEY"], env["SHOPIFY_API_SECRET"])
    assert args.app_url == env["APP_URL"] and args.webhook_url == env["APP_URL"] + "/webhooks"
    assert f"http://localhost:{args.port}" == env["SHOPIFY_ADMIN_ORIGIN"]
    assert args.host == "0.0.0.0"
    for name in ("worker", "syncer", "emulator"):
        assert services[name]["network_mode"] == "service:web"
    published = {p.split("#")[0].strip().split(":")[-1] for p in services["web"]["ports"]}
    assert published == {"8000", str(args.port)}


# --- Procfile and gunicorn --------------------------------------------------------------------------------


def test_the_procfile_names_the_same_process_types():
    procs = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    assert set(procs) == {"web", "worker", "syncer", "release"}
    assert procs["web"] == "gunicorn 'app:create_app()'"  # sizing and logging: gunicorn.conf.py
    assert procs["release"].endswith("db upgrade")


def _gunicorn_confs(*envs: dict[str, str]) -> list[dict]:
    """gunicorn.conf.py's settings under each environment (one child process: importing the app is slow)."""
    code = (
        "import json, os, runpy, sys\n"
        "base = dict(os.environ)\n"
        "for env in json.loads(sys.argv[1]):\n"
        "    os.environ.clear(); os.environ.update(base, **env)\n"
        "    c = runpy.run_path('gunicorn.conf.py')\n"
        "    keep = (str, int, float, type(None))\n"
        "    print(json.dumps({k: v for k, v in c.items() if isinstance(v, keep)}))\n"
    )
    environ = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(envs)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.strip().splitlines()[-len(envs) :]]


def test_gunicorn_reads_its_sizing_from_the_platform(tmp_path):
    base = {"TSUNAGU_ENV": "development", "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"}
    sizing = {"PORT": "5000", "WEB_CONCURRENCY": "3", "WEB_THREADS": "8", "FORWARDED_ALLOW_IPS": "10.0.0.0/8"}
    conf, sized = _gunicorn_confs(base, base | sizing | {"LOG_FORMAT": "json"})
    assert (conf["bind"], conf["workers"], conf["threads"]) == ("0.0.0.0:8000", 2, 4)
    assert conf["forwarded_allow_ips"] == "127.0.0.1"
    assert conf["timeout"] == 30 and conf["graceful_timeout"] < conf["timeout"] and conf["keepalive"] > 60
    assert "%(q)s" not in conf["access_log_format"] and "%(r)s" not in conf["access_log_format"]
    assert "logger_class" not in conf  # development: plain lines
    assert (sized["bind"], sized["workers"], sized["threads"]) == ("0.0.0.0:5000", 3, 8)
    assert sized["forwarded_allow_ips"] == "10.0.0.0/8"
    assert sized["logger_class"] == "app.observability.gunicorn_logging.JsonLogger"
