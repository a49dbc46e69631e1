"""The ``referee`` command line."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import sys
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
            help="JSONL, one item a line (PROTOCOL.md fields).", exists=True, dir_okay=False
        ),
    ],
    output: Annotated[Path, typer.Argument(help="JSONL of results, in input order.")],
    verifier: Annotated[
        str | None, typer.Option(help="Default spec: a name, or JSON for a component or list.")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes [one per CPU].")] = None,
    batch: Annotated[int, typer.Option(help="Items per engine call.", min=1)] = 1024,
) -> None:
    """Score a JSONL file offline through the same engine as the server."""
    from tqdm import tqdm

    from referee.service.app import build_engine
    from referee.service.edge import SpecError, parse_spec
    from referee.service.engine import BadRequest, ItemInput
    from referee.service.metrics import Metrics
    from referee.service.settings import Settings

    overrides: dict[str, Any] = {"workers": workers} if workers else {}
    settings = Settings(**overrides)
    raw_items = _read_items(input)
    try:
        spec = parse_spec(verifier)
    except SpecError as exc:
        raise typer.BadParameter(f"--verifier: {exc}") from None
    engine = build_engine(settings, Metrics())
    counts: dict[str, int] = {}
    try:
        with (
            output.open("w", encoding="utf-8") as out,
            tqdm(total=len(raw_items), unit="item", file=sys.stderr) as bar,
        ):
            for start in range(0, len(raw_items), batch):
                part = [ItemInput(**it) for it in raw_items[start : start + batch]]
                try:
                    results = asyncio.run(engine.score(part, spec))
                except BadRequest as exc:
                    loc = list(exc.loc)
                    if loc[:1] == ["items"]:
                        loc[1] = int(loc[1]) + start
                    typer.echo(f"error at {'.'.join(map(str, loc))}: {exc.message}", err=True)
                    raise typer.Exit(2) from None
                for r in results:
                    out.write(json.dumps(r.to_wire(), ensure_ascii=False) + "\n")
                    key = r.outcome or f"error:{r.error.kind if r.error else ''}"
                    counts[key] = counts.get(key, 0) + 1
                bar.update(len(part))
    finally:
        engine.close()
    summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    typer.echo(f"scored {len(raw_items)} items -> {output} ({summary})", err=True)


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
