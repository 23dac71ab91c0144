"""The static tokens file (hashes, never tokens) and the CLI's token/CA flags (issue 13)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from selfaware.auth import ADMIN, Principal
from selfaware.cli.local_tls import generate, token_entry, write_tokens_file
from selfaware.cli.main import main
from selfaware.errors import DataError
from selfaware.tokens import InvalidToken, StaticTokens, hash_token


def test_a_listed_token_is_its_subject_with_its_roles_and_the_file_holds_only_hashes(tmp_path: Path) -> None:
    alice, alice_entry = token_entry("alice", [ADMIN])
    bob, bob_entry = token_entry("bob", [])
    path = tmp_path / "tokens.yaml"
    write_tokens_file(path, [alice_entry, bob_entry])
    assert alice not in path.read_text() and hash_token(alice) in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    tokens = StaticTokens.load(path)
    assert tokens.verify(alice) == Principal("alice", frozenset({ADMIN}))
    assert tokens.verify(bob) == Principal("bob", frozenset())
    with pytest.raises(InvalidToken, match="unknown token") as caught:
        tokens.verify(alice + "x")
    assert alice not in str(caught.value)


def test_an_expired_token_is_refused_and_one_not_yet_expired_accepted(tmp_path: Path) -> None:
    now = datetime.datetime.now(datetime.UTC)
    old, old_entry = token_entry("old", [], expires=now - datetime.timedelta(seconds=1))
    new, new_entry = token_entry("new", [], expires=now + datetime.timedelta(hours=1))
    path = tmp_path / "tokens.yaml"
    write_tokens_file(path, [old_entry, new_entry])
    tokens = StaticTokens.load(path)
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(old)
    assert tokens.verify(new).subject == "new"


@pytest.mark.parametrize(("text", "names"), [
    ("- a list\n", "list under 'tokens'"),
    ("tokens: [{sha256: abc, subject: a}]\n", "tokens[0].sha256"),
    (f"tokens: [{{sha256: {'ab' * 32}}}]\n", "tokens[0].subject"),
    (f"tokens: [{{sha256: {'ab' * 32}, subject: a, roles: admin}}]\n", "tokens[0].roles"),
    (f"tokens: [{{sha256: {'ab' * 32}, subject: a, token: hunter2}}]\n", "tokens[0]: unknown fields ['token']"),
    (f"tokens: [{{sha256: {'ab' * 32}, subject: a}}, {{sha256: {'ab' * 32}, subject: b}}]\n", "tokens[1].sha256"),
    (f"tokens: [{{sha256: {'ab' * 32}, subject: a, expires: soon}}]\n", "tokens[0].expires"),
    ("tokens: [\n", "cannot read"),
])
def test_a_bad_tokens_file_names_the_entry_and_field(tmp_path: Path, text: str, names: str) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(text)
    with pytest.raises(DataError) as caught:
        StaticTokens.load(path)
    assert names in str(caught.value) and str(path) in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_the_local_stack_files_are_private_and_its_token_is_listed(tmp_path: Path) -> None:
    tls = generate(tmp_path / "tls", subject="someone")
    assert tls.folder.stat().st_mode & 0o777 == 0o700
    for path in tls.folder.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
    token = tls.token_file.read_text().strip()
    assert StaticTokens.load(tls.tokens_file).verify(token) == Principal("someone", frozenset({ADMIN}))
    assert tls.credentials().token == token and "token=<set>" in repr(tls.credentials())


@pytest.mark.parametrize("flag", ["--token-file", "--ca-file"])
def test_the_cli_gives_exit_2_and_one_line_for_a_missing_token_or_ca_file(
        tmp_path: Path, flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    assert main(["list", "--endpoint", "127.0.0.1:1", flag, str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err and str(missing) in err


def test_the_cli_reads_the_token_file_from_the_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "token"
    empty.write_text("\n")
    monkeypatch.setenv("SELFAWARE_TOKEN_FILE", str(empty))
    assert main(["list", "--endpoint", "127.0.0.1:1"]) == 2
    assert "the file is empty" in capsys.readouterr().err


def test_selfaware_token_writes_the_token_privately_and_prints_only_its_entry(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "alice.token"
    assert main(["token", "alice", "--role", "admin", "--token-file", str(out)]) == 0
    token = out.read_text().strip()
    printed = capsys.readouterr().out
    assert out.stat().st_mode & 0o777 == 0o600 and token not in printed
    tokens_file = tmp_path / "tokens.yaml"
    tokens_file.write_text("tokens:\n" + printed)
    assert StaticTokens.load(tokens_file).verify(token) == Principal("alice", frozenset({ADMIN}))
    assert main(["token", "bob", "--token-file", str(out)]) == 2  # never overwrites a token
    assert out.read_text().strip() == token


def test_a_changed_tokens_file_is_reread_and_a_broken_one_keeps_the_tokens_in_use(tmp_path: Path) -> None:
    alice, alice_entry = token_entry("alice", [ADMIN])
    bob, bob_entry = token_entry("bob", [])
    path = tmp_path / "tokens.yaml"
    write_tokens_file(path, [alice_entry])
    tokens = StaticTokens.load(path)
    tokens.RECHECK_S = 0.0
    assert tokens.verify(alice).subject == "alice"
    write_tokens_file(path, [bob_entry])  # alice revoked, bob added
    assert tokens.verify(bob).subject == "bob"
    with pytest.raises(InvalidToken):
        tokens.verify(alice)
    path.write_text("tokens: [\n")
    assert tokens.verify(bob).subject == "bob"
