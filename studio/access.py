"""Who may reach the app, and what a visitor may name when it is shared.

Launch settings: the address and port to serve on, the logins, and the refusal to serve a network address without
a login. Command-line flags win over environment variables, which win over defaults; `launch_settings(argv, env)`
decides everything without starting anything, so every rule is tested as a table.

Shared mode (on when the app is reachable from other machines, or on a Hugging Face Space): visitors may name only
registered datasets and shipped assets, catalogue models (bundled, hub ids, adapters under the runs folder, models on
the configured OpenAI-compatible servers) and runs. A server path typed as a dataset, test file or model folder, a
server URL typed into a model reference, and changes to the server settings are refused with a message. The app records the
decision in $CQA_SHARED, so job subprocesses decide the same way.

Standard library only: app.py reads this before gradio and huggingface_hub are imported.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from studio.core import paths

LOOPBACK_NAMES = ("localhost",)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
SHARED_MAX_UPLOAD_MB = 20
"""Upload cap in shared mode (CQA_MAX_UPLOAD_MB changes it): a Q/A file of several thousand pairs is under 5 MB."""
SHARED_QUEUE_SIZE = 20
"""Requests waiting in Gradio's queue in shared mode (CQA_QUEUE_SIZE); more are refused with "queue full"."""
SHARED_MAX_QUEUED_JOBS = 8
"""Jobs waiting in the job queue in shared mode, unless CQA_MAX_QUEUED says otherwise (the `small` grid is 14)."""
SHARED_MAX_JOB_TOKENS = 4_000_000
"""Tokens one job may process in shared mode (CQA_MAX_JOB_TOKENS; studio/jobs/budgets.py counts them, in tokens of
SmolLM2-135M): 22x the default SFT job (181,760: 355 examples x 1 epoch x 512 tokens, 2.5 min on 2 CPU cores), so
about an hour of training there, the wall-clock limit below. Every sample grid's cell passes (the largest, the
report grid's Qwen2.5-0.5B for 3 epochs on the sample FAQ, is 2.0 million; on 800 examples of your own, 4.5)."""
SHARED_MAX_JOB_MINUTES = 60
"""Minutes one job may run in shared mode before it is stopped as Stop stops it (CQA_MAX_JOB_MINUTES): jobs run one
at a time, so with 8 waiting a visitor waits at most 8 hours; the README's 60-step GRPO run took 27 min."""
SHARED_MAX_JOBS_PER_VISITOR = 2
"""Queued or running jobs one visitor (login or anonymous session) may have in shared mode
(CQA_MAX_JOBS_PER_VISITOR): a training and its next experiment; the queue's room is shared by everyone."""
DELETE_CACHE = (3600, 3600)
"""Shared mode: every hour, delete Gradio's temporary files (uploads, exports) older than an hour."""

TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")
DATASET_NAME = re.compile(r"[A-Za-z0-9_-]+")
DATA_FIELDS = ("data", "accelerate_config")
DATA_LIST_FIELDS = ("tests", "eval_tests")
MODEL_FIELDS = ("model",)
ADAPTER_FIELDS = ("adapter",)
"""Job config fields naming an adapter folder (RLHF's starting run): checked as adapter:<folder> references."""
"""Job config fields that name server files or models, checked in shared mode. A new job kind with such a field
adds its name here (and a row to tests/test_access.py)."""


class AccessError(ValueError):
    """A launch setting or a name that is refused; the message says why and what to do instead."""


def env_flag(env: Mapping[str, str], name: str) -> bool | None:
    """A yes/no environment variable: None when unset or empty, else its meaning (anything else is an error)."""
    value = env.get(name, "").strip().lower()
    if not value:
        return None
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise AccessError(f"{name} must be one of {', '.join(TRUE_WORDS + FALSE_WORDS)}, not {env[name]!r}")


def on_space(env: Mapping[str, str]) -> bool:
    """Running as a Hugging Face Space (the platform sets SPACE_ID)."""
    return bool(env.get("SPACE_ID", "").strip())


def is_loopback(host: str) -> bool:
    """Only this machine can reach `host`: localhost, 127.0.0.0/8, ::1. Any other name or address is a network."""
    if host.strip().lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


# ------------------------------------------------------------------------------------------ launch settings


@dataclass
class LaunchSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    auth: list[tuple[str, str]] = field(default_factory=list)
    """(user, password) pairs for Gradio's login page; empty = no login."""
    shared: bool = False
    allow_downloads: bool = False
    space: bool = False
    max_file_size: int | None = None
    """Upload cap in bytes (None = Gradio's default, no cap)."""
    queue_size: int | None = None
    """Gradio queue max_size (None = unbounded)."""

    def launch_kwargs(self) -> dict:
        """The arguments of Blocks.launch() these settings decide."""
        return {"server_name": self.host, "server_port": self.port, "auth": self.auth or None,
                "max_file_size": self.max_file_size}


def add_launch_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The flags launch_settings() reads. Defaults are None so that an unset flag lets the environment decide."""
    parser.add_argument("--host", default=None,
                        help=f"address to serve on (else $GRADIO_SERVER_NAME, else {DEFAULT_HOST}); "
                             "anything but loopback needs a login or --no-auth-i-know")
    parser.add_argument("--port", default=None,
                        help=f"port (else $GRADIO_SERVER_PORT, else $PORT, else {DEFAULT_PORT})")
    parser.add_argument("--auth", action="append", default=None, metavar="USER:PASSWORD",
                        help="a login (repeatable); else $CQA_AUTH and the user:password lines of $CQA_AUTH_FILE. "
                             "A password typed here shows in the process list: prefer the file")
    parser.add_argument("--auth-file", default=None, metavar="FILE", help="a file of user:password lines")
    parser.add_argument("--no-auth-i-know", action="store_true",
                        help="serve a network address without a login: anyone who reaches the port can use the "
                             "app, start jobs and use this machine's CPU and disk")
    parser.add_argument("--shared", action=argparse.BooleanOptionalAction, default=None,
                        help="shared mode: only registered datasets, catalogue models and runs can be named "
                             "(else $CQA_SHARED; on by default off loopback and on a Space)")
    parser.add_argument("--allow-downloads", action="store_true",
                        help="do not set HF_HUB_OFFLINE=1, so hub files may be downloaded (else $CQA_ALLOW_DOWNLOADS)")
    return parser


def launch_parser(description: str = "") -> argparse.ArgumentParser:
    # allow_abbrev=False: prepare_environment() looks for the exact "--allow-downloads" before argparse runs
    return add_launch_arguments(argparse.ArgumentParser(description=description, allow_abbrev=False))


def launch_settings(argv: list[str], env: Mapping[str, str]) -> LaunchSettings:
    """Parse `argv` with the launch flags and decide everything against `env`. Raises AccessError when refused."""
    parser = launch_parser()
    return settings_from(parser.parse_args(argv), env)


def settings_from(args: argparse.Namespace, env: Mapping[str, str]) -> LaunchSettings:
    space = on_space(env)
    host = args.host or env.get("GRADIO_SERVER_NAME", "").strip() or DEFAULT_HOST
    port = _port(args.port, env)
    auth = _logins(args, env)
    shared = args.shared
    if shared is None:
        shared = env_flag(env, "CQA_SHARED")
    if shared is None:
        shared = space or not is_loopback(host)
    if not auth and not args.no_auth_i_know:
        if not is_loopback(host) and not space:
            raise AccessError(
                f"refusing to serve on {host} without a login: anyone who can reach this port could use the app, "
                "queue jobs and fill this machine's CPU and disk. Add --auth user:password (or CQA_AUTH / "
                "CQA_AUTH_FILE), serve on 127.0.0.1, or pass --no-auth-i-know if the network is yours alone.")
        if space and not shared:
            raise AccessError(
                "refusing to turn shared mode off on a Space without a login: a public Space would let any visitor "
                "read server files through typed paths. Add CQA_AUTH (a Space secret), or keep shared mode on, or "
                "pass --no-auth-i-know for a private Space.")
    upload_mb = _positive_number(env, "CQA_MAX_UPLOAD_MB", SHARED_MAX_UPLOAD_MB if shared else None)
    queue_size = _positive_number(env, "CQA_QUEUE_SIZE", SHARED_QUEUE_SIZE if shared else None)
    return LaunchSettings(host=host, port=port, auth=auth, shared=shared, space=space,
                          allow_downloads=downloads_requested([], env) or args.allow_downloads,
                          max_file_size=None if upload_mb is None else int(upload_mb * 1024 * 1024),
                          queue_size=None if queue_size is None else int(queue_size))


def _port(flag: str | None, env: Mapping[str, str]) -> int:
    for source, value in (("--port", flag), ("GRADIO_SERVER_PORT", env.get("GRADIO_SERVER_PORT")),
                          ("PORT", env.get("PORT"))):
        if value is not None and str(value).strip():
            try:
                port = int(str(value).strip())
            except ValueError:
                raise AccessError(f"{source} must be a port number, not {value!r}") from None
            if not 0 < port < 65536:
                raise AccessError(f"{source} must be a port between 1 and 65535, not {port}")
            return port
    return DEFAULT_PORT


def _login(text: str, where: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    user, password = user.strip(), password.strip()  # spaces around either (and a file's CR) are not part of it
    if not sep or not user or not password:
        # the value itself is not echoed: it may hold a password
        raise AccessError(f"{where}: a login is user:password, with a non-empty user and password")
    return user, password


def _logins(args: argparse.Namespace, env: Mapping[str, str]) -> list[tuple[str, str]]:
    """--auth / --auth-file when given, else $CQA_AUTH and $CQA_AUTH_FILE."""
    flags = [_login(text, "--auth") for text in args.auth or []]
    if args.auth_file:
        flags += _login_file(args.auth_file, "--auth-file")
    if flags:
        return flags
    found = [_login(env["CQA_AUTH"], "CQA_AUTH")] if env.get("CQA_AUTH", "").strip() else []
    if env.get("CQA_AUTH_FILE", "").strip():
        found += _login_file(env["CQA_AUTH_FILE"], "CQA_AUTH_FILE")
    return found


def _login_file(path: str, where: str) -> list[tuple[str, str]]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise AccessError(f"{where}: cannot read {path}: {e}") from None
    logins = [_login(line, f"{where} {path} line {n}") for n, line in enumerate(lines, 1)
              if line.strip() and not line.lstrip().startswith("#")]
    if not logins:
        raise AccessError(f"{where}: {path} holds no user:password line")
    return logins


def _positive_number(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise AccessError(f"{name} must be a positive number, not {text!r}")
    return value


def downloads_requested(argv: list[str], env: Mapping[str, str]) -> bool:
    return "--allow-downloads" in argv or bool(env_flag(env, "CQA_ALLOW_DOWNLOADS"))


def prepare_environment(argv: list[str], env: dict) -> None:
    """Set before gradio and huggingface_hub are imported (both read these once): Gradio's analytics off; hub
    offline unless downloads were asked for, in which case the request beats an inherited HF_HUB_OFFLINE=1."""
    env.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if downloads_requested(argv, env):
        env["HF_HUB_OFFLINE"] = "0"
    else:
        env.setdefault("HF_HUB_OFFLINE", "1")


def record_mode(settings: LaunchSettings, env: dict) -> None:
    """Make the launch's decisions visible to shared_mode() and to job subprocesses, which inherit `env`."""
    env["CQA_SHARED"] = "1" if settings.shared else "0"
    if settings.shared:
        env.setdefault("CQA_MAX_QUEUED", str(SHARED_MAX_QUEUED_JOBS))


# ---------------------------------------------------------------------------------------------- shared mode


def shared_mode(env: Mapping[str, str] | None = None) -> bool:
    """$CQA_SHARED when set (app.py sets it at launch), else on a Space."""
    env = os.environ if env is None else env
    flag = env_flag(env, "CQA_SHARED")
    return on_space(env) if flag is None else flag


def _within(root: Path, target: Path) -> bool:
    root, target = root.resolve(), target.expanduser().resolve()
    return target != root and root in target.parents


def check_data_path(text: str | Path) -> None:
    """Shared mode: a dataset or test file must be a registered dataset's name or lie in the data folder or the
    shipped assets (links are followed before deciding). Outside shared mode anything goes."""
    if not shared_mode():
        return
    text = str(text).strip()
    if not text:
        return  # nothing named: the job's own check says what is missing
    if DATASET_NAME.fullmatch(text) and not Path(text).exists():
        return  # a registered dataset's name, looked up in the data folder
    target = paths.PROJECT_ROOT / text if Path(text).parts[:1] == ("assets",) else Path(text)  # as pages name samples
    if "\x00" not in text and any(_within(root, target) for root in (paths.data_dir(), paths.ASSETS)):
        return
    raise AccessError(
        f"{text!r} is refused in shared mode: only registered datasets (add a file in the Training tab) and the "
        "sample files can be used, not paths on the server.")


def check_model_ref(ref) -> None:
    """Shared mode: bundled models, hub ids (in the catalogue or already on disk) and adapters under the runs
    folder; a model folder typed as a path is refused. Outside shared mode anything goes. Accepts text or a
    ModelRef; text that does not parse is left for the loader to explain."""
    if not shared_mode():
        return
    from studio.models import hub, refs

    try:
        ref = refs.ModelRef.parse(ref) if isinstance(ref, str) else ref
    except refs.ModelError:
        return
    if ref.kind == "bundled":
        return
    if ref.kind == "hub" and HUB_ID.fullmatch(ref.id) and ".." not in ref.id:
        if any(m.id == ref.id for m in hub.HUB_MODELS) or hub.find_hub_folder(ref.id):
            return
        raise AccessError(f"hub:{ref.id} is refused in shared mode: only the catalogue's hub models (see the "
                          "Models tab) or ones already copied to this server can be used.")
    if ref.kind == "adapter" and _within(paths.runs_dir(), refs.adapter_path(ref.id)):
        return
    if ref.kind == "openai":
        from studio.models import servers

        if servers.configured_server(ref):
            return
        raise AccessError(f"{ref} is refused in shared mode: only models on the OpenAI-compatible servers configured "
                          "on this server can be used (see the Models tab), not a server URL or another name.")
    raise AccessError(
        f"{ref} is refused in shared mode: only catalogue models can be used (bundled models, hub ids, and "
        "fine-tuned adapters from the runs folder), not folders on the server.")


def check_settings_change(what: str = "the server settings") -> None:
    """Shared mode: the app's settings (e.g. which OpenAI-compatible servers it talks to) are not for visitors,
    who could otherwise make this server send requests anywhere."""
    if shared_mode():
        raise AccessError(f"{what} cannot be changed in shared mode: the app's owner configures them (environment "
                          "variables, or the Models tab of an app that is not shared).")


def check_inputs(models: Iterable = (), data: Iterable = ()) -> None:
    """Every model reference and every dataset or test file, checked; the first refused one raises."""
    for ref in models:
        check_model_ref(ref)
    for path in data:
        check_data_path(path)


def check_job(cfg) -> None:
    """A job config's fields that name models or server files (MODEL_FIELDS, DATA_FIELDS, DATA_LIST_FIELDS)."""
    model_refs = [getattr(cfg, name) for name in MODEL_FIELDS if getattr(cfg, name, None)]
    model_refs += [f"adapter:{getattr(cfg, name)}" for name in ADAPTER_FIELDS if getattr(cfg, name, None)]
    files = [getattr(cfg, name) for name in DATA_FIELDS if getattr(cfg, name, None)]
    for name in DATA_LIST_FIELDS:
        files += list(getattr(cfg, name, None) or [])
    check_inputs(model_refs, files)
    if shared_mode() and (getattr(cfg, "processes", 1) or 1) > 1:
        raise AccessError("training on several processes is refused in shared mode: the app's owner starts such "
                          "jobs (python -m studio train CONFIG with processes set).")
