"""The one composition root and CLI: `dolphin-relay console|discord|slack|all|doctor|policy|fake-model …`.

It reads `Settings` once, builds every client once (`bots.runtime.open_core`), runs the chosen adapters
until SIGTERM/SIGINT, then stops intake, drains in-flight answers within RUNTIME_SHUTDOWN_GRACE_S and
closes the clients (a second signal cancels the answers at once; each user still gets a notice).
`all` runs every configured adapter; `--optional` makes an unconfigured platform stay idle instead of
exiting, so a compose service for a platform nobody set up does not restart in a loop. Expected conditions (bad configuration, Redis or TGI unreachable at start) end with one
line on stderr that names the setting, and a non-zero exit code — never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import structlog

from bots.tasks import TaskTracker
from core.errors import ConfigurationError
from core.observability import configure_logging
from core.settings import Settings, load_settings, unknown_settings

log = structlog.get_logger(__name__)

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dolphin-relay",
        description="Dolphin-2.1 (via TGI) in Discord and Slack, with history in Redis and moderation.",
    )
    parser.add_argument(
        "--env-file", default=None, help="settings file to read (default: .env in this directory, if present)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    console = sub.add_parser("console", help="chat in the terminal through the same core")
    console.add_argument("--channel", default="console", help="conversation name (default: console)")
    console.add_argument("--user", default=None, help="your name in the conversation (default: login name)")

    optional_help = (
        "when the platform has no token, log that and stay idle until stopped instead of exiting "
        "(for docker compose, where an exit means a restart loop)"
    )
    discord = sub.add_parser("discord", help="run the Discord bot (DISCORD_TOKEN)")
    discord.add_argument("--optional", action="store_true", help=optional_help)
    slack = sub.add_parser("slack", help="run the Slack app (Socket Mode with SLACK_APP_TOKEN, else HTTP)")
    slack.add_argument("--port", type=int, default=3000, help="HTTP mode port (default 3000)")
    slack.add_argument("--optional", action="store_true", help=optional_help)
    both = sub.add_parser(
        "all", help="run every configured adapter (Discord, Slack) in one process sharing one core"
    )
    both.add_argument("--port", type=int, default=3000, help="Slack HTTP mode port (default 3000)")
    both.add_argument("--optional", action="store_true", help=optional_help)

    from bots.doctor import add_doctor_parser
    from bots.fake_model import add_fake_model_parser

    add_doctor_parser(sub)
    add_fake_model_parser(sub)
    try:
        from bots.policy_cli import add_policy_parser
    except ImportError:  # pragma: no cover
        pass
    else:
        add_policy_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.env_file is None:
        args.env_file = ".env"
    elif not Path(args.env_file).exists():
        print(
            f"dolphin-relay: --env-file {args.env_file}: no such file (give the path of your .env, "
            "or leave --env-file out to read ./.env when there is one)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is not None:  # sub-commands that bring their own handler (policy check / eval)
        return handler(args)
    try:
        settings = load_settings(args.env_file)
        log_settings = settings.log
        if args.command == "console" and log_settings.level == "INFO":
            # Piped, standard error is often the same terminal: only warnings and errors go there.
            log_settings = log_settings.model_copy(update={"level": "WARNING"})
        configure_logging(log_settings)
        warn_unknown_settings(args.env_file)
        if args.command == "console" and sys.stdin.isatty() and sys.stdout.isatty():
            return _terminal_console(args, settings)
        return asyncio.run(_run(args, settings))
    except ConfigurationError as exc:
        print(f"dolphin-relay: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def warn_unknown_settings(env_file: str) -> None:
    """One warning per name that looks like a setting but is none (a likely typo), with the closest
    setting; names Kubernetes or Docker Compose set are expected and pass quietly. Never fatal."""
    for unknown in unknown_settings(env_file):
        if unknown.owner is None:
            log.warning(
                "settings.unknown",
                name=unknown.name,
                source=unknown.source,
                closest=unknown.closest,
                hint=unknown.describe(),
            )


def _console_settings(settings: Settings) -> Settings:
    from core.settings import LimitSettings

    # Rate limits and strikes protect shared channels; the console is one local user (who may pipe a
    # whole file of messages to try a policy: its blocks are shown and audited, never a mute).
    return settings.model_copy(update={"limits": LimitSettings(user_per_minute=0, channel_per_minute=0)})


def _terminal_console(args: argparse.Namespace, settings: Settings) -> int:
    """The console on a terminal: log lines go to a file while chatting (the banner says where), at the
    level LOG_LEVEL sets."""
    from bots.console import log_file, run_terminal
    from bots.runtime import open_core

    path = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        logs = path.open("a", encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the console log {path} ({exc.strerror}): set XDG_STATE_HOME to a writable "
            "directory, or pipe the console (echo hi | dolphin-relay console)",
            setting="XDG_STATE_HOME",
        ) from None
    with logs:
        configure_logging(settings.log, stream=logs)
        settings = _console_settings(settings)
        return run_terminal(
            lambda: open_core(settings, require_model=True, strikes=False),
            channel=args.channel,
            user=args.user,
            log_path=path,
        )


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bots.runtime import open_core

    if args.command == "console":
        from bots.console import run_console

        async with open_core(_console_settings(settings), require_model=True, strikes=False) as core:
            return await run_console(core, channel=args.channel, user=args.user)

    adapters = adapters_to_run(args.command, settings, optional=args.optional)
    check_adapters(adapters, settings)  # a missing token is said before Redis or the model server is asked
    stop = asyncio.Event()
    signals = _StopSignals(stop)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, signals.received)

    from core.health import HealthServer

    async with open_core(settings) as core, contextlib.AsyncExitStack() as stack:
        signals.tasks = core.tasks
        if settings.metrics.port:
            health = HealthServer(
                metrics=core.metrics,
                redis=core.redis,
                generator=core.generator,
                host=settings.metrics.host,
                port=settings.metrics.port,
                stopping=stop.is_set,
            )
            await stack.enter_async_context(health)
            log.info("health.listening", url=health.url)
        runners: list[Awaitable[None]] = []
        if "discord" in adapters:
            from bots.discord.app import run_discord

            runners.append(run_discord(core, stop=stop))
        if "slack" in adapters:
            from bots.slack.app import run_slack

            runners.append(run_slack(core, stop=stop, port=args.port))
        if not runners:
            log.warning(
                "adapters.idle",
                reason=_NOT_CONFIGURED[args.command],
                hint="set it in .env and restart this service, or stop the service",
            )
            await stop.wait()
        tasks = [asyncio.ensure_future(r) for r in runners]
        try:
            # One adapter failing (a rejected token) stops the others too.
            for finished in asyncio.as_completed(tasks):
                try:
                    await finished
                except BaseException:
                    stop.set()
                    raise
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
        await core.tasks.drain(settings.runtime.shutdown_grace_s)
    log.info("shutdown.complete")
    return 0


_SETTING = {"discord": "DISCORD_TOKEN", "slack": "SLACK_BOT_TOKEN"}
_NOT_CONFIGURED = {
    "discord": "DISCORD_TOKEN is not set",
    "slack": "SLACK_BOT_TOKEN is not set",
    "all": "neither DISCORD_TOKEN nor SLACK_BOT_TOKEN is set",
}


def configured_platforms(settings: Settings) -> list[str]:
    """The platforms that have any of their credentials set (a partial Slack setup counts, so that
    starting it reports what is missing instead of silently skipping it)."""
    out = []
    if settings.discord.token is not None:
        out.append("discord")
    slack = settings.slack
    if any(v is not None for v in (slack.bot_token, slack.app_token, slack.signing_secret)):
        out.append("slack")
    return out


def adapters_to_run(command: str, settings: Settings, *, optional: bool) -> list[str]:
    """`discord` / `slack` run that adapter (its own start-up names a missing token); `all` runs every
    configured one and fails when there is none. `--optional` turns "not configured" into "stay idle"."""
    wanted = ["discord", "slack"] if command == "all" else [command]
    configured = [p for p in wanted if p in configured_platforms(settings)]
    if optional:
        return configured
    if command != "all":
        return wanted
    if not configured:
        raise ConfigurationError(
            "`all` has nothing to run: neither DISCORD_TOKEN nor SLACK_BOT_TOKEN is set: set at least one in .env "
            "(docs/discord.md, docs/slack.md)",
            setting="DISCORD_TOKEN",
        )
    for platform in wanted:
        if platform not in configured:
            log.warning("adapter.not_configured", platform=platform, setting=_SETTING[platform])
    return configured


def check_adapters(adapters: Sequence[str], settings: Settings) -> None:
    """The settings each adapter to run needs are there (its token, the right kind of token, Slack's signing
    secret in HTTP mode, Discord's sharding): a `ConfigurationError` naming the setting and the fix."""
    if "discord" in adapters:
        from bots.discord.app import check_settings

        check_settings(settings.discord)
    if "slack" in adapters:
        from bots.slack.start import check_tokens

        check_tokens(settings.slack, http_mode=settings.slack.app_token is None)  # as run_slack decides


class _StopSignals:
    """The first SIGTERM/SIGINT stops intake and lets answers in progress finish within the grace period;
    a second one cancels them at once (each still gets its notice)."""

    def __init__(self, stop: asyncio.Event) -> None:
        self._stop = stop
        self.tasks: TaskTracker | None = None

    def received(self) -> None:
        if not self._stop.is_set():
            log.info("shutdown.requested")
            self._stop.set()
            return
        cancelled = self.tasks.cancel_all() if self.tasks is not None else 0
        log.warning("shutdown.forced", cancelled=cancelled)


if __name__ == "__main__":
    sys.exit(main())
