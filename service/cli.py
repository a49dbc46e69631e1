"""The ``referee`` command line."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from referee.service.version import __version__

__all__ = ["app"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Referee: a verifiable reward server for RL of reasoning models.",
)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port [8000].")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Verifier worker processes [one per CPU].")
    ] = None,
    grpc_port: Annotated[int | None, typer.Option(help="gRPC port, 0 to disable [50051].")] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow a non-loopback address with no API keys.")
    ] = False,
    redis: Annotated[
        str | None,
        typer.Option(
            help="Judge through Redis Streams (redis://host:port) with `referee worker`s."
        ),
    ] = None,
    log_format: Annotated[str | None, typer.Option(help="text or json [text].")] = None,
) -> None:
    """Run HTTP and gRPC: in-process workers, or with --redis, `referee worker`s."""
    import uvicorn

    from referee.service.app import create_app
    from referee.service.auth import load_key_hashes
    from referee.service.http_protocol import protocol_with_header_timeout
    from referee.service.logs import configure
    from referee.service.settings import Settings

    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "workers": workers,
        "grpc_port": grpc_port,
        "redis_url": redis,
        "log_format": log_format,
    }
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    try:
        keys = load_key_hashes(settings.api_key_hashes, settings.api_key_file)
    except (OSError, ValueError) as exc:
        typer.echo(f"API keys: {exc}", err=True)
        raise typer.Exit(2) from None
    if not insecure and not keys and not _is_loopback(settings.host):
        typer.echo(
            f"refusing to serve on {settings.host}: anyone who can reach it could score and "
            "run code; no API keys are configured (REFEREE_API_KEY_HASHES or "
            "REFEREE_API_KEY_FILE). Bind 127.0.0.1, configure keys, or pass --insecure.",
            err=True,
        )
        raise typer.Exit(2)
    configure(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
        http=protocol_with_header_timeout(settings.header_timeout_s),
        timeout_keep_alive=settings.keep_alive_s,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) or None,
    )


@app.command()
def worker(
    redis: Annotated[str | None, typer.Option(help="Redis URL (or REFEREE_REDIS_URL).")] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Verifier processes of this worker [one per CPU].")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus /metrics on this port.")
    ] = None,
    log_format: Annotated[str | None, typer.Option(help="text or json [text].")] = None,
) -> None:
    """Judge tasks from Redis for `referee serve --redis` replicas (any host)."""
    from referee.service.worker_cli import run_worker

    raise typer.Exit(run_worker(redis, concurrency, metrics_port, log_format))


@app.command("hash-key")
def hash_key_command(
    key: Annotated[
        str | None, typer.Argument(help="The API key; read from stdin when omitted.")
    ] = None,
) -> None:
    """Print the sha256 digest of an API key, for REFEREE_API_KEY_HASHES."""
    from referee.service.auth import hash_key

    text = key if key is not None else sys.stdin.readline().rstrip("\n")
    if not text:
        typer.echo("empty key", err=True)
        raise typer.Exit(2)
    typer.echo(hash_key(text))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_items(path: Path) -> list[dict[str, Any]]:
    from referee.service.schemas import ItemIn

    items: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                items.append(ItemIn.model_validate_json(line).model_dump())
            except ValueError as exc:
                raise typer.BadParameter(f"{path}:{n}: {exc}") from None
    return items


@app.command()
def score(
    input: Annotated[
        Path,
        typer.Argument(
            help="JSONL, one item a line (PROTOCOL.md fields); with --rescore, a saved "
            "results file.",
            exists=True,
            dir_okay=False,
        ),
    ],
    output: Annotated[Path, typer.Argument(help="JSONL of results, in input order.")],
    verifier: Annotated[
        str | None,
        typer.Option(
            help="Default spec: a name, or JSON for a component or list. With --rescore it "
            "replaces every saved spec (to preview another configuration)."
        ),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes [one per CPU].")] = None,
    batch: Annotated[int, typer.Option(help="Items per engine call.", min=1)] = 1024,
    rescore: Annotated[
        bool,
        typer.Option(
            "--rescore",
            help="INPUT is a saved results file (/score requests with their responses, "
            "or records): judge it again and report which verdicts changed. OUTPUT gets "
            "records with the new results.",
        ),
    ] = False,
    with_items: Annotated[
        bool,
        typer.Option(
            "--with-items",
            help="Write records {item, verifier, result}, which --rescore reads later.",
        ),
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="With --rescore: also write the report as JSON here.")
    ] = None,
) -> None:
    """Score a JSONL file offline through the same engine as the server.

    With --rescore, judge a saved results file again with the verifiers installed
    now and print which verdicts changed, by class and direction.
    """
    from referee.service.edge import SpecError, parse_spec

    try:
        spec = parse_spec(verifier)
    except SpecError as exc:
        raise typer.BadParameter(f"--verifier: {exc}") from None
    if rescore:
        _rescore(input, output, spec, workers, batch, report)
        return
    raw_items = _read_items(input)
    results = _judge(raw_items, spec, workers, batch, lambda i: f"items.{i}")
    counts: dict[str, int] = {}
    with output.open("w", encoding="utf-8") as out:
        for item, wire in zip(raw_items, results, strict=True):
            if with_items:
                out.write(_record_line(item, spec, wire))
            else:
                out.write(json.dumps(wire, ensure_ascii=False) + "\n")
            key = wire["outcome"] or f"error:{(wire['error'] or {}).get('kind', '')}"
            counts[key] = counts.get(key, 0) + 1
    summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    typer.echo(f"scored {len(raw_items)} items -> {output} ({summary})", err=True)


def _record_line(item: dict[str, Any], spec: Any, wire: dict[str, Any]) -> str:
    from referee.service.saved import record_line

    return record_line({k: v for k, v in item.items() if v is not None}, spec, wire)


def _judge(
    items: list[dict[str, Any]],
    spec: Any,
    workers: int | None,
    batch: int,
    where: Callable[[int], str],
) -> list[dict[str, Any]]:
    """The wire results of ``items`` (engine inputs' fields) judged by a fresh engine."""
    from tqdm import tqdm

    from referee.service.app import build_engine
    from referee.service.engine import BadRequest, ItemInput
    from referee.service.metrics import Metrics
    from referee.service.settings import Settings

    overrides: dict[str, Any] = {"workers": workers} if workers else {}
    engine = build_engine(Settings(**overrides), Metrics())
    results: list[dict[str, Any]] = []
    try:
        with tqdm(total=len(items), unit="item", file=sys.stderr) as bar:
            for start in range(0, len(items), batch):
                part = [ItemInput(**it) for it in items[start : start + batch]]
                try:
                    judged = asyncio.run(engine.score(part, spec))
                except BadRequest as exc:
                    loc = list(exc.loc)
                    if loc[:1] == ["items"]:
                        field = ".".join(map(str, loc[2:]))
                        at = f"{where(int(loc[1]) + start)}{'.' + field if field else ''}"
                    else:
                        at = ".".join(map(str, loc))
                    typer.echo(f"error at {at}: {exc.message}", err=True)
                    raise typer.Exit(2) from None
                results.extend(r.to_wire() for r in judged)
                bar.update(len(part))
    finally:
        engine.close()
    return results


def _rescore(
    input: Path,
    output: Path,
    override: Any,
    workers: int | None,
    batch: int,
    report_path: Path | None,
) -> None:
    from referee.service.rescore import compare
    from referee.service.saved import SavedFileError, read_saved, record_line

    try:
        records = read_saved(input)
    except SavedFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    items = []
    for record in records:
        fields = record.fields()
        if override is not None:
            fields["verifier"] = override
        elif fields["verifier"] is None:
            fields["verifier"] = record.verifier
        items.append(fields)
    results = _judge(items, None, workers, batch, lambda i: records[i].where)
    with output.open("w", encoding="utf-8") as out:
        for record, wire in zip(records, results, strict=True):
            saved = dict(record.item)
            if override is not None:  # the spec judged with, as the record's default
                saved.pop("verifier", None)
            default = override if override is not None else record.verifier
            out.write(record_line(saved, default, wire))
    found = compare(records, results)
    typer.echo(found.render())
    if report_path is not None:
        report_path.write_text(json.dumps(found.to_json(), ensure_ascii=False, indent=1) + "\n")


@app.command("verifiers")
def list_verifiers(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the registered verifiers with their parameters."""
    from referee import verifiers
    from referee.service.edge import verifier_infos

    verifiers.load_builtin()
    infos = verifier_infos()
    if as_json:
        typer.echo(json.dumps(infos, indent=2))
        return
    for info in infos:
        typer.echo(f"{info['name']} (v{info['version']}): {info['description']}")
        props = info["params_schema"].get("properties", {})
        required = set(info["params_schema"].get("required", []))
        for pname, pschema in props.items():
            default = "required" if pname in required else f"default {pschema.get('default')!r}"
            kind = (
                pschema.get("type")
                or "|".join(
                    str(x.get("type", x.get("const", "?"))) for x in pschema.get("anyOf", [])
                )
                or ("enum " + "|".join(map(str, pschema["enum"])) if "enum" in pschema else "any")
            )
            typer.echo(f"    {pname}: {kind}, {default}")


@app.command()
def train(
    config: Annotated[
        Path, typer.Option(help="Run config (YAML, docs/grpo.md).", exists=True, dir_okay=False)
    ],
    output_dir: Annotated[
        Path | None, typer.Option(help="Overrides output_dir in the config.")
    ] = None,
) -> None:
    """Train a policy with the bundled GRPO trainer, rewards from a Referee server."""
    from pydantic import ValidationError

    from referee.clients.grpo import load_config
    from referee.clients.grpo import train as run_training

    try:
        cfg = load_config(config, output_dir)
    except (ValidationError, ValueError) as exc:
        typer.echo(f"{config}: {exc}", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    out = run_training(cfg)
    typer.echo(f"done: {out}", err=True)


@app.command()
def plot(
    output_dir: Annotated[
        Path, typer.Argument(help="A training output folder (has metrics.jsonl).", file_okay=False)
    ],
) -> None:
    """Draw OUTPUT_DIR/training.png (reward and response length per step)."""
    from referee.clients.grpo import plot as draw

    if not (output_dir / "metrics.jsonl").is_file():
        typer.echo(f"{output_dir}: no metrics.jsonl", err=True)
        raise typer.Exit(2)
    typer.echo(str(draw(output_dir)))


@app.command()
def version() -> None:
    """Print Referee's version."""
    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
