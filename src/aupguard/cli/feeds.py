"""`aupguard feeds update` and `aupguard feeds status`: the operator's URL reputation feeds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from aupguard.cli.app import app, console, errors, fail
from aupguard.content.feeds import FeedError, feed_status, feeds_directory, update_feed
from aupguard.detectors.urls import UrlFeeds
from aupguard.policy.loader import PackLoadError, load_source

feeds_app = typer.Typer(
    help="Refresh and inspect the URL reputation feeds the pack names.", no_args_is_help=True
)
app.add_typer(feeds_app, name="feeds")

PackOption = Annotated[
    str, typer.Option("--pack", "-p", help="Pack naming the feeds: 'default', a file or folder.")
]
DirOption = Annotated[
    Path | None,
    typer.Option("--dir", help="Feeds directory (default: the pack's, else AUPGUARD_FEEDS_DIR)."),
]


def _feeds_of(pack: str) -> UrlFeeds:
    try:
        source = load_source(pack)
    except PackLoadError as exc:
        for problem in exc.errors:
            errors.print(str(problem), soft_wrap=True, markup=False)
        fail(f"pack {pack!r} has {len(exc.errors)} problem(s)")
    located = source.data.get("url_feeds")
    if located is None:
        return UrlFeeds()
    try:
        return UrlFeeds.model_validate(located.value.values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        fail(
            f"{located.origin.file}:{located.origin.line}: data.url_feeds.values.{where}: {first['msg']}"
        )


@feeds_app.command("update")
def update(
    pack: PackOption = "default",
    directory: DirOption = None,
    feed: Annotated[
        list[str] | None,
        typer.Option(
            "--feed",
            help="NAME=SOURCE: fetch this feed from SOURCE (file path or URL) instead of "
            "the pack's source. Repeat for several.",
        ),
    ] = None,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Update only these feeds.")
    ] = None,
) -> None:
    """Fetch every feed the pack names and store a normalised copy for the engine."""
    config = _feeds_of(pack)
    declared = {spec.name: spec.source for spec in config.feeds}
    sources = dict(declared)
    for item in feed or []:
        name, eq, source = item.partition("=")
        if not eq or not name or not source:
            fail(f"--feed {item!r}: expected NAME=SOURCE")
        if name not in declared:
            fail(
                f"--feed {name!r}: the pack declares no such feed "
                f"(declared: {', '.join(sorted(declared)) or 'none'})"
            )
        sources[name] = source
    chosen = list(only or sources)
    unknown = [n for n in chosen if n not in sources]
    if unknown:
        fail(
            f"--only: unknown feed(s) {', '.join(unknown)} (declared: {', '.join(sorted(declared))})"
        )
    if not chosen:
        fail("the pack declares no feed (dataset url_feeds)")
    target = directory or feeds_directory(config.directory)
    failed = 0
    table = Table(title=f"feeds in {target}", title_justify="left")
    for column in ("feed", "hosts", "urls", "skipped lines", "source"):
        table.add_column(column, overflow="fold")
    for name in chosen:
        try:
            result = update_feed(target, name, sources[name])
        except (FeedError, OSError) as exc:
            errors.print(f"[bold red]error:[/] {name}: {exc}", soft_wrap=True)
            failed += 1
            continue
        table.add_row(name, str(result.hosts), str(result.urls), str(result.skipped), result.source)
    console.print(table)
    if failed:
        console.print(f"{failed} feed(s) failed; their previous copies are kept")
        raise typer.Exit(1)
    console.print("reload running engines (Engine.reload) to serve the new lists")


@feeds_app.command("status")
def status(pack: PackOption = "default", directory: DirOption = None) -> None:
    """When each feed was last fetched, and how many entries its copy holds."""
    config = _feeds_of(pack)
    target = directory or feeds_directory(config.directory)
    table = Table(title=f"feeds in {target}", title_justify="left")
    for column in ("feed", "category", "fetched at", "hosts", "urls", "source"):
        table.add_column(column, overflow="fold")
    for spec in config.feeds:
        meta = feed_status(target, spec.name) or {}
        table.add_row(
            spec.name,
            spec.category,
            str(meta.get("fetched_at", "never")),
            str(meta.get("hosts", "-")),
            str(meta.get("urls", "-")),
            str(meta.get("source", spec.source)),
        )
    console.print(table)
