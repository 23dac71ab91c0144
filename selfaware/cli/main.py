"""`selfaware`: run an experiment on an embedded local stack, or talk to a deployment with `--endpoint`.

Exit codes: 0 success, 1 the experiment or a service failed, 2 bad input (spec, flag or unknown id), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import grpc
import yaml
from rich.console import Console

from selfaware.catalogue import complete
from selfaware.cli.local_tls import token_entry, write_private
from selfaware.cli.progress import follow, follow_sweep
from selfaware.cli.results import print_catalogue, print_results, write_report
from selfaware.cli.stack import LocalStack, StackError, local_catalogues
from selfaware.client import Client, Credentials
from selfaware.config import ConfigError, load_config, setting
from selfaware.errors import FieldViolation, SpecError
from selfaware.grpc_server import field_violations
from selfaware.plan import plan_jobs
from selfaware.specs import load_spec_file, planned_job_count, prepare
from selfaware.sweeps import load_sweep_file
from selfaware.v1 import catalogue_pb2 as cat
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2, sweep_pb2

console = Console()


@dataclass(frozen=True)
class ClientConfig:
    """Settings of the `selfaware` command itself."""

    endpoint: str = setting("127.0.0.1:50051", "the aggregator of a running deployment (host:port)")
    data_dir: Path = setting(Path("~/.cache/selfaware"), "cache for models and artifacts of the embedded stack")
    token_file: str = setting("", "file holding the bearer token for --endpoint (`selfaware up` prints its own)")
    ca_file: str = setting("", "PEM CA that signed --endpoint's certificate (empty: the system's CAs, or "
                               "plaintext when no token is set either)")


def _client(args: argparse.Namespace, config: ClientConfig) -> Client:
    """A Client of --endpoint with the token and CA of the flags, else the env (SELFAWARE_TOKEN_FILE/CA_FILE)."""
    token_file = getattr(args, "token_file", None) or config.token_file
    ca_file = getattr(args, "ca_file", None) or config.ca_file
    for flag, path in (("--token-file", token_file), ("--ca-file", ca_file)):
        if path and not os.access(path, os.R_OK):
            raise UsageError(f"{flag} {path}: cannot read the file")
    try:
        credentials = Credentials.from_files(Path(token_file) if token_file else None,
                                             Path(ca_file) if ca_file else None)
    except OSError as exc:
        raise UsageError(f"--token-file {token_file}: {exc.strerror or exc}") from None
    if token_file and not credentials.token:
        raise UsageError(f"--token-file {token_file}: the file is empty")
    return Client(args.endpoint or config.endpoint, credentials=credentials)


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


def _spec(path: str) -> object:
    try:
        return prepare(load_spec_file(Path(path)))
    except SpecError as exc:
        raise UsageError(f"invalid spec {path}: {exc}") from None


def _reconnecting(code: grpc.StatusCode, delay_s: float) -> None:
    console.print(f"[yellow]lost the aggregator ({code.name}); retrying in {delay_s:.1f} s[/yellow]")


async def _submit_spec(client: Client, spec: object) -> str:
    """Submit with one idempotency key for this invocation, so the client's retries create one experiment."""
    experiment = await client.submit(spec, idempotency_key=uuid.uuid4().hex,  # type: ignore[arg-type]
                                     on_retry=_reconnecting)
    return str(experiment.id)


async def _watch_and_report(client: Client, experiment_id: str, out: Path) -> int:
    final = await follow(client.watch(experiment_id, on_retry=_reconnecting), console)
    if final.status != rec.EXPERIMENT_STATUS_SUCCEEDED:
        status = rec.ExperimentStatus.Name(final.status).removeprefix("EXPERIMENT_STATUS_")
        console.print(f"[red]experiment {experiment_id} {status.lower()}: {final.error}[/red]")
        return 1
    report = await client.report(experiment_id)
    folder = write_report(report, out / experiment_id)
    print_results(report.json, console)
    console.print(f"report: {folder / 'report.md'}")
    return 0


def _supervisor_line(line: str) -> None:
    console.print(f"[yellow]supervisor: {line}[/yellow]")


def cmd_run(args: argparse.Namespace, config: ClientConfig) -> int:
    spec = _spec(args.spec)

    async def work(client: Client) -> int:
        experiment_id = await _submit_spec(client, spec)
        console.print(f"experiment {experiment_id} submitted: {spec.name}")  # type: ignore[attr-defined]
        return await _watch_and_report(client, experiment_id, Path(args.out))

    return _on_local_stack(config, source_roots_for(spec), work)  # type: ignore[arg-type]


def _on_local_stack(config: ClientConfig, source_roots: str, action: Callable[[Client], Awaitable[int]]) -> int:
    """Start the embedded stack, run `action` against its aggregator while supervising the children, stop it."""
    run_dir = config.data_dir.expanduser() / "runs" / time.strftime("%Y%m%d-%H%M%S")
    stack = LocalStack(run_dir)

    async def run() -> int:
        started = time.monotonic()
        console.print(f"starting nats-server and 4 services (logs: {run_dir / 'logs'})")
        await stack.start(config.data_dir.expanduser(), run_dir / "nats",
                          extra_env={"SELFAWARE_SOURCE_ROOTS": source_roots})
        console.print(f"stack up in {time.monotonic() - started:.1f} s")
        supervisor = asyncio.create_task(stack.supervise(notify=_supervisor_line))
        async with stack.client() as client:
            work = asyncio.create_task(action(client))
            await asyncio.wait({work, supervisor}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():  # the supervisor gave up on a service: its StackError ends the run
                work.cancel()
                await supervisor
            supervisor.cancel()
            code = await work
        console.print(f"wall time {time.monotonic() - started:.0f} s")
        return code

    try:
        return run_interruptible(run())
    except KeyboardInterrupt:
        console.print("interrupted: stopping the services (in-flight work is handed back)")
        return 130
    finally:
        stack.stop()


def source_roots_for(*specs: spec_pb2.ExperimentSpec) -> str:
    """The embedded stack's source roots for `selfaware run` (one spec) or `sweep` (its cells): the services'
    defaults (`.` and `../shared`, here made absolute), plus the folder of every local file the specs name, so that
    a spec outside this folder runs as it validated. A deployment sets `source_roots` itself."""
    folders = [Path.cwd(), Path.cwd().parent / "shared"]
    for spec in specs:
        for arm in spec.arms:
            if arm.data.import_uri and "://" not in arm.data.import_uri:
                folders.append(Path(arm.data.import_uri).parent)
        for instance in spec.evaluation.suites:
            for value in instance.params.fields.values():
                if value.HasField("string_value") and value.string_value.startswith("/"):
                    folders.append(Path(value.string_value).parent)
    return ":".join(dict.fromkeys(str(folder.resolve()) for folder in folders))


def _sweep(path: str) -> sweep_pb2.SweepSpec:
    try:
        return load_sweep_file(Path(path))
    except SpecError as exc:
        raise UsageError(f"invalid sweep {path}: {exc}") from None


async def _submit_sweep(client: Client, sweep: sweep_pb2.SweepSpec) -> str:
    """Submit under the key `sweep:<name>`: the same sweep file submitted again adds only its missing cells."""
    submitted = await client.submit_sweep(sweep, idempotency_key=f"sweep:{sweep.name}", on_retry=_reconnecting)
    held = sum(cell.held for cell in submitted.cells)
    console.print(f"sweep {submitted.id} submitted: {sweep.name} ({len(submitted.cells)} cells, {held} held)")
    return str(submitted.id)


async def _watch_sweep_and_report(client: Client, sweep_id: str, out: Path) -> int:
    final = await follow_sweep(client.watch_sweep(sweep_id, on_retry=_reconnecting), console)
    reply = await client.get_sweep(sweep_id)
    if reply.markdown:
        folder = write_report(reply, out / f"sweep-{sweep_id}")
        console.print(f"sweep report: {folder / 'report.md'}")
    if final.status != rec.EXPERIMENT_STATUS_SUCCEEDED:
        status = rec.ExperimentStatus.Name(final.status).removeprefix("EXPERIMENT_STATUS_")
        console.print(f"[red]sweep {sweep_id} {status.lower()}: {final.error}[/red]")
        return 1
    return 0


def cmd_sweep(args: argparse.Namespace, config: ClientConfig) -> int:
    """Expand SWEEP (client-side: paths resolve against the files), then print, submit, or run it. Without
    --endpoint it runs on the embedded stack and is always watched (--watch changes nothing there)."""
    sweep = _sweep(args.sweep)
    if args.dry_run:
        for cell in sweep.cells:
            print(f"{cell.key}  ({planned_job_count(cell.spec)} jobs)  {cell.spec.name}")
        print(f"{len(sweep.cells)} cells; nothing submitted (--dry-run)")
        return 0

    async def work(client: Client) -> int:
        sweep_id = await _submit_sweep(client, sweep)
        if args.endpoint and not args.watch:
            print(sweep_id)
            return 0
        return await _watch_sweep_and_report(client, sweep_id, Path(args.out))

    if args.endpoint:
        async def remote() -> int:
            async with _client(args, config) as client:
                return await work(client)

        return asyncio.run(remote())
    return _on_local_stack(config, source_roots_for(*(cell.spec for cell in sweep.cells)), work)


def run_interruptible(main: Coroutine[Any, Any, int]) -> int:
    """`asyncio.run(main)`, stopped by Ctrl-C (SIGINT) or SIGTERM, raising KeyboardInterrupt either way.

    Why set SIGINT at all: a process started with SIGINT ignored (a background job of a script, a test runner's
    worker) inherits that, Python then keeps ignoring it and asyncio installs no handler, so neither Ctrl-C nor
    `kill -INT` would stop the stack. SIGTERM (`kill`, a process manager) stops it the same way, so the children,
    which run in sessions of their own, are never left behind.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return asyncio.run(main)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")


def cmd_up(args: argparse.Namespace, config: ClientConfig) -> int:
    data_dir = config.data_dir.expanduser()
    stack = LocalStack(data_dir / "up", metrics=args.metrics)

    async def up() -> int:
        await stack.start(data_dir, data_dir / "up" / "nats", grpc_port=args.grpc_port,
                          replicas={"trainer": args.trainers, "evaluator": args.evaluators})
        for name, port in stack.metrics_ports.items():
            console.print(f"{name} metrics: http://127.0.0.1:{port}/metrics")
        exports = " ".join(f"{k}={v}" for k, v in stack.client_env.items())
        await stack.supervise(notify=_supervisor_line, supervising=lambda: console.print(
            f"selfaware is up: aggregator at {stack.endpoint} (TLS, token required), NATS at {stack.nats_url} "
            f"(user admin, password in {stack.run_dir / 'nats-auth' / 'admin.password'}); "
            f"Ctrl-C stops it\nto connect from another shell:\n  export {exports}\n"
            f"  selfaware list --endpoint {stack.endpoint}", soft_wrap=True))
        # supervise returns only by raising StackError
        return 1

    try:
        return run_interruptible(up())
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def _remote(action: Callable[[Client, argparse.Namespace], Awaitable[int]]
            ) -> Callable[[argparse.Namespace, ClientConfig], int]:
    def command(args: argparse.Namespace, config: ClientConfig) -> int:
        async def go() -> int:
            async with _client(args, config) as client:
                return await action(client, args)

        return asyncio.run(go())

    return command


async def _submit(client: Client, args: argparse.Namespace) -> int:
    experiment_id = await _submit_spec(client, _spec(args.spec))
    print(experiment_id)
    return await _watch_and_report(client, experiment_id, Path(args.out)) if args.watch else 0


async def _watch(client: Client, args: argparse.Namespace) -> int:
    return await _watch_and_report(client, args.experiment_id, Path(args.out))


async def _sweep_watch(client: Client, args: argparse.Namespace) -> int:
    return await _watch_sweep_and_report(client, args.sweep_id, Path(args.out))


async def _list(client: Client, args: argparse.Namespace) -> int:
    for e in await client.list():
        status = rec.ExperimentStatus.Name(e.status).removeprefix("EXPERIMENT_STATUS_").lower()
        print(f"{e.id}  {status:<10}  {e.created_at.ToDatetime():%Y-%m-%d %H:%M}  {e.spec.name}")
    return 0


async def _report(client: Client, args: argparse.Namespace) -> int:
    report = await client.report(args.experiment_id)
    folder = write_report(report, Path(args.out) / args.experiment_id)
    print_results(report.json, console)
    console.print(f"report: {folder / 'report.md'}")
    return 0


async def _cancel(client: Client, args: argparse.Namespace) -> int:
    experiment = await client.cancel(args.experiment_id, args.reason)
    print(f"{experiment.id} {rec.ExperimentStatus.Name(experiment.status).removeprefix('EXPERIMENT_STATUS_').lower()}")
    return 0


async def _dlq_list(client: Client, args: argparse.Namespace) -> int:
    page = await client.dead_letters(limit=args.limit)
    for stored in page.letters:
        letter = stored.letter
        error = letter.error.splitlines()[0][:120] if letter.error else ""
        print(f"{stored.seq:>6}  {stored.dead_lettered_at.ToDatetime():%Y-%m-%d %H:%M:%S}  {letter.subject}  "
              f"{letter.consumer}  {letter.experiment_id or '-'}  x{letter.deliveries}  {error}")
    if page.total > len(page.letters):
        print(f"({page.total - len(page.letters)} more; --limit shows more)", file=sys.stderr)
    return 0


async def _dlq_replay(client: Client, args: argparse.Namespace) -> int:
    if args.all == (args.seq is not None):
        raise UsageError("dlq replay takes one letter's sequence number or --all")
    if args.all:
        seqs = [stored.seq for stored in (await client.dead_letters(limit=1000)).letters]
    else:
        if not args.seq.isdigit() or int(args.seq) == 0:
            raise UsageError(f"dlq replay: {args.seq!r} is not a dead letter's sequence number (see dlq list)")
        seqs = [int(args.seq)]
    for seq in seqs:
        replayed = await client.replay_dead_letter(seq)
        print(f"{seq} replayed on {replayed.subject} (event {replayed.event_seq})")
    return 0


async def _dlq_purge(client: Client, args: argparse.Namespace) -> int:
    purged = await client.purge_dead_letters(args.experiment_id)
    print(f"{purged.purged} dead letters of {args.experiment_id} purged")
    return 0


def _validate(args: argparse.Namespace, config: ClientConfig) -> int:
    """Structure offline; semantics against a deployment (--endpoint) or the services installed here."""
    spec = _spec(args.spec)
    if args.offline:
        print(f"{args.spec}: structure valid (parts and parameters not checked: --offline)")
        return 0
    if args.endpoint:
        async def remote() -> tuple[list[FieldViolation], list[str]]:
            async with _client(args, config) as client:
                reply = await client.validate(spec)  # type: ignore[arg-type]
                return [FieldViolation(v.field, v.description) for v in reply.violations], list(reply.jobs)

        violations, jobs = asyncio.run(remote())
    else:
        completed, violations = complete(spec, local_catalogues())  # type: ignore[arg-type]
        jobs = [] if violations else [job.key for job in plan_jobs("", completed)]
    if violations:
        raise UsageError(f"invalid spec {args.spec}: {SpecError(violations)}")
    print(f"{args.spec}: valid ({len(jobs)} jobs: {', '.join(jobs)})")
    return 0


def _catalogue(args: argparse.Namespace, config: ClientConfig) -> int:
    """Every part the services offer, with its parameters and defaults: what a spec may name."""
    if args.endpoint:
        async def remote() -> list[cat.Catalogue]:
            async with _client(args, config) as client:
                return list((await client.catalogues()).catalogues)

        catalogues = asyncio.run(remote())
    else:
        catalogues = local_catalogues()
    print_catalogue(catalogues, console)
    return 0


def _token(args: argparse.Namespace, config: ClientConfig) -> int:
    """Make a bearer token for a deployment's tokens file: the token goes to --token-file (0600, never printed),
    the entry (its SHA-256, subject and roles) to stdout, to add under `tokens:` in the Secret's tokens.yaml."""
    out = Path(args.token_file)
    if out.exists():
        raise UsageError(f"--token-file {out}: exists; a new token never overwrites one")
    expires = None
    if args.expires:
        try:
            expires = datetime.datetime.fromisoformat(args.expires)
        except ValueError:
            raise UsageError(f"--expires {args.expires!r}: expected an ISO 8601 time, e.g. 2027-01-01T00:00:00Z"
                             ) from None
    token, entry = token_entry(args.subject, sorted(set(args.role)), expires)
    try:
        write_private(out, (token + "\n").encode())
    except OSError as exc:
        raise UsageError(f"--token-file {out}: {exc.strerror or exc}") from None
    print(yaml.safe_dump([entry], sort_keys=False), end="")
    return 0


class _Parser(argparse.ArgumentParser):
    """Bad flags are bad input like any other: one line on stderr, exit 2 (argparse would add its usage)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (--help lists the options)", file=sys.stderr)
        raise SystemExit(2)


def _count(most: int) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to `most`."""
    def parse(value: str) -> int:
        if not value.isdigit() or not 1 <= int(value) <= most:
            raise argparse.ArgumentTypeError(f"a number from 1 to {most}, not {value!r}")
        return int(value)
    return parse


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="selfaware", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Callable[[argparse.Namespace, ClientConfig], int], help: str,
                remote: bool = False, parent: Any = sub) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
        if remote:
            p.add_argument("--endpoint", help="aggregator host:port (env SELFAWARE_ENDPOINT; default 127.0.0.1:50051)")
            p.add_argument("--token-file", help="file holding the bearer token (env SELFAWARE_TOKEN_FILE)")
            p.add_argument("--ca-file", help="PEM CA of the endpoint's certificate (env SELFAWARE_CA_FILE)")
        return p

    p = command("run", cmd_run, "run SPEC on an embedded local stack (NATS + the four services), then report")
    p.add_argument("spec")
    p.add_argument("--out", default="reports", help="folder for reports (default ./reports)")
    p = command("up", cmd_up, "start NATS and the four services locally until Ctrl-C")
    p.add_argument("--grpc-port", type=int, default=50051, help="aggregator port (default 50051)")
    p.add_argument("--trainers", type=_count(64), default=1, help="trainer processes (default 1)")
    p.add_argument("--evaluators", type=_count(64), default=1, help="evaluator processes (default 1)")
    p.add_argument("--metrics", action="store_true", help="serve each service's Prometheus metrics on a port of its own "
                                                      "(printed at start)")
    p = command("validate", _validate, "check a spec against the services installed here (or --endpoint's)",
                True)
    p.add_argument("spec")
    p.add_argument("--offline", action="store_true", help="check the structure only, without any catalogue")
    command("catalogue", _catalogue, "list the parts a spec can name (suites, steps, engines, ...) and their "
                                     "parameters", True)
    p = command("submit", _remote(_submit), "submit SPEC to a running deployment; prints the experiment id", True)
    p.add_argument("spec")
    p.add_argument("--watch", action="store_true", help="follow progress and fetch the report")
    p.add_argument("--out", default="reports")
    for name, action, help in [("watch", _watch, "follow an experiment until it ends, then fetch its report"),
                               ("report", _report, "fetch an experiment's report"),
                               ("cancel", _cancel, "cancel an experiment")]:
        p = command(name, _remote(action), help, True)
        p.add_argument("experiment_id")
        if name == "cancel":
            p.add_argument("--reason", default="", help="recorded on the experiment")
        else:
            p.add_argument("--out", default="reports")
    command("list", _remote(_list), "list experiments", True)
    p = command("sweep", cmd_sweep, "run SWEEP (a grid over an experiment spec) on an embedded local stack, or "
                                    "submit it to --endpoint; writes reports/sweep-<id>/", True)
    p.add_argument("sweep")
    p.add_argument("--dry-run", action="store_true", help="print the cells; submit nothing")
    p.add_argument("--watch", action="store_true",
                   help="follow the cells and fetch the report (always so without --endpoint)")
    p.add_argument("--out", default="reports", help="folder for reports (default ./reports)")
    p = command("sweep-watch", _remote(_sweep_watch), "follow a sweep until it ends, then fetch its report", True)
    p.add_argument("sweep_id")
    p.add_argument("--out", default="reports")
    p = command("token", _token, "make a bearer token for a deployment (auth_mode tokens): writes the token to "
                                 "--token-file, prints its tokens.yaml entry (a hash, never the token)")
    p.add_argument("subject", help="who the token stands for: the owner of what it creates")
    p.add_argument("--role", action="append", default=[], help="a role, e.g. admin (sees everything); repeatable")
    p.add_argument("--token-file", required=True, help="where to write the token (mode 0600; must not exist)")
    p.add_argument("--expires", help="when the token stops working, ISO 8601 (default: never)")
    dlq = sub.add_parser("dlq", help="the dead-letter stream: events no service could handle",
                         description="the dead-letter stream: events no service could handle")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True, metavar="{list,replay,purge}")
    p = command("list", _remote(_dlq_list), "list the dead letters, oldest first", True, dlq_sub)
    p.add_argument("--limit", type=_count(1000), default=100, help="at most this many (default 100, at most 1000)")
    p = command("replay", _remote(_dlq_replay), "republish dead letters on their original subjects (handlers are "
                                                "idempotent; one that fails again is dead-lettered again)", True,
                dlq_sub)
    p.add_argument("seq", nargs="?", help="the letter's sequence number, from `dlq list`")
    p.add_argument("--all", action="store_true", help="replay every letter (up to 1000)")
    p = command("purge", _remote(_dlq_purge), "delete an experiment's dead letters and their payloads (its owner "
                                              "or an admin)", True, dlq_sub)
    p.add_argument("experiment_id")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = load_config(ClientConfig)
        return args.handler(args, config)
    except (UsageError, ConfigError) as exc:
        print(f"selfaware: {exc}", file=sys.stderr)
        return 2
    except StackError as exc:
        print(f"selfaware: the local stack failed: {exc}", file=sys.stderr)
        return 1
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND):
            fields = "; ".join(f"{f}: {d}" for f, d in field_violations(exc))
            print(f"selfaware: {exc.code().name}: {fields or exc.details()}", file=sys.stderr)
            return 2
        print(f"selfaware: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
