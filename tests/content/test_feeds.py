"""URL reputation feeds: parsing, atomic updates, the CLI, and blocking with W5 cited."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from aupguard import Engine, Verdict
from aupguard.cli import app
from aupguard.content.feeds import FeedError, FeedIndex, load_feed, parse_feed, update_feed
from tests.factories import message

runner = CliRunner()


def test_every_feed_format_is_understood() -> None:
    parsed = parse_feed(
        [
            "# comment",
            "! adblock comment",
            "evil.example.com",
            "0.0.0.0 tracker.example.net",
            "||ads.example.org^",
            "||files.example.org/payload/x.exe^$all",
            "http://dl.example.info/a/b.zip?x=1",
            "https://whole-host.example.biz/",
            "1.2.3.4",
            "not a host at all!",
            "",
        ]
    )
    assert parsed.hosts == {
        "evil.example.com",
        "tracker.example.net",
        "ads.example.org",
        "whole-host.example.biz",
        "1.2.3.4",
    }
    assert parsed.urls == {"files.example.org/payload/x.exe", "dl.example.info/a/b.zip"}
    assert parsed.skipped == 1


@given(st.lists(st.text(max_size=80), max_size=30))
def test_parser_never_raises(lines: list[str]) -> None:
    parsed = parse_feed(lines)
    assert parsed.entries + parsed.skipped <= len(lines)


def test_lookup_covers_subdomains_and_url_prefixes() -> None:
    index = FeedIndex.build(
        [("f", "malware", parse_feed(["evil.example.com", "||cdn.example.net/bad/^"]))]
    )
    assert index.lookup("evil.example.com") == ("f",)
    assert index.lookup("a.b.evil.example.com") == ("f",)
    assert index.lookup("example.com") == ()
    assert index.lookup("cdn.example.net", "/bad/file.js") == ("f",)
    assert index.lookup("cdn.example.net", "/good/file.js") == ()


def test_update_replaces_the_copy_and_a_broken_source_keeps_it(tmp_path: Path) -> None:
    source = tmp_path / "list.txt"
    source.write_text("evil.example.com\n", "utf-8")
    feeds = tmp_path / "feeds"
    result = update_feed(feeds, "mine", str(source))
    assert (result.hosts, result.urls) == (1, 0)
    source.write_text("# nothing but comments\n", "utf-8")
    with pytest.raises(FeedError, match="no host or URL found"):
        update_feed(feeds, "mine", str(source))
    with pytest.raises(FeedError, match="cannot read"):
        update_feed(feeds, "mine", str(tmp_path / "missing.txt"))
    with pytest.raises(FeedError, match="unsupported source"):
        update_feed(feeds, "mine", "ftp://example.com/list")
    with pytest.raises(FeedError, match="invalid feed name"):
        update_feed(feeds, "../escape", str(source))
    kept = load_feed(feeds, "mine")
    assert kept is not None and kept.hosts == {"evil.example.com"}
    assert not list(feeds.glob(".*.tmp"))


def test_urlhaus_listed_domain_is_blocked_citing_w5(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acceptance: `aupguard feeds update` from the URLhaus fixture, then a listed domain is blocked."""
    urlhaus = shared_data / "urlhaus"
    feeds = tmp_path / "feeds"
    result = runner.invoke(
        app,
        [
            "feeds",
            "update",
            "--dir",
            str(feeds),
            "--feed",
            f"urlhaus-domains={urlhaus / 'urlhaus-filter-domains.txt'}",
            "--feed",
            f"urlhaus-online={urlhaus / 'urlhaus-filter-online.txt'}",
        ],
    )
    assert result.exit_code == 0, result.output
    listed = next(
        line.strip()
        for line in (urlhaus / "urlhaus-filter-domains.txt").read_text("utf-8").splitlines()
        if line and not line.startswith("#") and not line[0].isdigit()
    )
    monkeypatch.setenv("AUPGUARD_FEEDS_DIR", str(feeds))
    engine = Engine.from_pack()
    decision = engine.screen(message(f"Your invoice is ready, open https://{listed}/invoice now"))
    assert decision.verdict is Verdict.BLOCK
    assert "W5" in decision.clauses
    hit = next(h for h in decision.hits if h.rule == "malware.url_feed")
    assert any(listed in e.label for e in hit.evidence)
    # a subdomain and a defanged spelling are caught too
    assert (
        engine.screen(message(f"see hxxp://cdn.{listed.replace('.', '[.]')}/x")).verdict
        is Verdict.BLOCK
    )
    # the online list's URL entries match by path
    pdf = "https://2024.sci-hub.se/2294/7a43bb4cf6c57229b02a9604a1f4614e/skidmore1966.pdf"
    assert engine.screen(message(f"paper: {pdf}")).verdict is Verdict.BLOCK
    assert (
        engine.screen(message("paper: https://2024.sci-hub.se/1/other.pdf")).verdict
        is Verdict.ALLOW
    )
    status = runner.invoke(app, ["feeds", "status", "--dir", str(feeds)])
    assert status.exit_code == 0 and "urlhaus-domains" in status.output


def test_feeds_cli_bad_input_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["feeds", "update", "--dir", str(tmp_path), "--feed", "nope=x.txt"])
    assert result.exit_code == 2 and "declares no such feed" in result.output
    result = runner.invoke(app, ["feeds", "update", "--dir", str(tmp_path), "--feed", "garbage"])
    assert result.exit_code == 2 and "NAME=SOURCE" in result.output
    result = runner.invoke(app, ["feeds", "update", "--dir", str(tmp_path), "--only", "nope"])
    assert result.exit_code == 2 and "unknown feed" in result.output


def test_a_failed_feed_exits_1_and_keeps_the_others(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("evil.example.com\n", "utf-8")
    result = runner.invoke(
        app,
        [
            "feeds",
            "update",
            "--dir",
            str(tmp_path / "f"),
            "--feed",
            f"urlhaus-domains={good}",
            "--feed",
            f"urlhaus-online={tmp_path / 'none.txt'}",
        ],
    )
    assert result.exit_code == 1
    assert "urlhaus-online" in result.output and "cannot read" in " ".join(result.output.split())
    assert load_feed(tmp_path / "f", "urlhaus-domains") is not None


def test_the_pack_canary_is_blocked_without_any_feed(engine: Engine) -> None:
    decision = engine.screen(message("get it at http://aupguard-canary.example.com/x"))
    assert decision.verdict is Verdict.BLOCK and decision.clauses[:2] == ("W5", "V3")
