"""Secrets by reference: resolved from a folder or the environment where they are used, refused as literals in a
spec with the field named and the value never repeated, and endpoint keys only from the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfaware.openai_endpoint import EndpointOptions, api_key
from selfaware.secret_store import SecretError, SecretsConfig, SecretStore, env_name, use_secret_store
from selfaware.source_policy import SourcePolicy, use_source_policy
from selfaware.sources import read_uri, unreadable
from selfaware.specs import spec_from_dict, structural_violations, with_defaults

SIGNATURE = "3f9a1c0e7b5d4a2f8e6c1b9d0a7f5e3c"
STRICT = SourcePolicy(roots=(), schemes=("http", "https"), allow_private_hosts=False)


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    (tmp_path / "ds-url").write_text("https://data.example/rows.jsonl?X-Amz-Signature=" + SIGNATURE + "\n")
    (tmp_path / "openai").write_text("sk-from-the-folder\n")
    return SecretStore(folder=tmp_path, key_envs=("OPENAI_API_KEY",))


def test_a_secret_comes_from_the_folder_then_the_environment(store: SecretStore, monkeypatch) -> None:
    monkeypatch.setenv(env_name("data.token"), "from-env")
    assert env_name("data.token") == "SELFAWARE_SECRET_DATA_TOKEN"
    assert store.resolve("secret:ds-url", "f").endswith(SIGNATURE)
    assert store.resolve("https://h/x?token=${secret:data.token}&b=${secret:openai}", "f") == \
        "https://h/x?token=from-env&b=sk-from-the-folder"
    assert store.resolve("/plain/path.jsonl", "f") == "/plain/path.jsonl"


def test_an_unknown_or_bad_secret_names_the_field_and_the_name_only(store: SecretStore) -> None:
    with pytest.raises(SecretError, match=r"^arms\.a\.data\.import: unknown secret 'nope'; .*SELFAWARE_SECRET_NOPE"):
        store.resolve("https://h/x?sig=${secret:nope}", "arms.a.data.import")
    with pytest.raises(SecretError, match="is not a secret name"):
        store.value("../openai", "f")
    (store.folder / "empty").write_text(" \n")  # type: ignore[operator]
    with pytest.raises(SecretError, match="secret 'empty' is empty"):
        store.value("empty", "f")


def test_endpoint_keys_come_only_from_named_secrets_and_allowed_variables(store: SecretStore, monkeypatch) -> None:
    monkeypatch.setenv("NATS_PASSWORD", "nats-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("SELFAWARE_SECRET_JUDGE", "judge-key")
    use_secret_store(store)
    try:
        options = EndpointOptions(base_url="http://h/v1", model="m")
        assert api_key(options) == "sk-env"
        assert api_key(EndpointOptions(base_url="http://h/v1", model="m", api_key_file="openai")) == \
            "sk-from-the-folder"
        assert api_key(EndpointOptions(base_url="http://h/v1", model="m", api_key_env="SELFAWARE_SECRET_JUDGE")) == \
            "judge-key"
        with pytest.raises(SecretError, match="^api_key_env: 'NATS_PASSWORD' is not a key variable") as caught:
            api_key(EndpointOptions(base_url="http://h/v1", model="m", api_key_env="NATS_PASSWORD"))
        assert "nats-secret" not in str(caught.value)
        for path in ("/etc/passwd", str(store.folder / "openai"), "../openai"):
            with pytest.raises(SecretError, match="^api_key_file: .* is not a secret name"):
                api_key(EndpointOptions(base_url="http://h/v1", model="m", api_key_file=path))
    finally:
        use_secret_store(SecretStore())


def test_the_config_builds_the_store(tmp_path: Path) -> None:
    store = SecretsConfig(secrets_dir=str(tmp_path), api_key_envs="OPENAI_API_KEY, ANTHROPIC_API_KEY").secret_store()
    assert store == SecretStore(folder=tmp_path.resolve(), key_envs=("OPENAI_API_KEY", "ANTHROPIC_API_KEY"))


def test_reading_a_referenced_source_resolves_it_at_fetch_time(store: SecretStore, tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text("{}\n")
    (tmp_path / "local").write_text(str(data))
    use_secret_store(store)
    try:
        assert read_uri("secret:local") == b"{}\n"
        with pytest.raises(SecretError, match="^secret:missing: unknown secret 'missing'"):
            read_uri("secret:missing")
    finally:
        use_secret_store(SecretStore())


def test_a_reference_is_checked_at_submit_as_far_as_it_can_be_without_the_secret() -> None:
    use_source_policy(STRICT)
    try:
        assert unreadable("secret:ds-url") is None
        assert unreadable("https://data.example/x?X-Amz-Signature=${secret:sig}") is None
        assert "loopback" in (unreadable("http://127.0.0.1:9/x?sig=${secret:sig}") or "")
        assert "unsupported scheme" in (unreadable("gopher://h/${secret:sig}") or "")
    finally:
        use_source_policy(SourcePolicy())


def _spec(**changes: object) -> dict:
    spec: dict = {"arms": {"a": {"data": {"import": "secret:ds-url"}}}, "evaluation": {"suites": ["heldout"]}}
    spec.update(changes)
    return spec


@pytest.mark.parametrize(("where", "change", "secret"), [
    ("arms.a.data.import", {"arms": {"a": {"data": {"import": f"https://h/x.jsonl?X-Amz-Signature={SIGNATURE}"}}}},
     SIGNATURE),
    ("arms.a.data.import", {"arms": {"a": {"data": {"import": "https://bob:hunter2pass@h/x.jsonl"}}}}, "hunter2pass"),
    ("arms.a.note", {"arms": {"a": {"data": {"import": "/x.jsonl"}, "note": "hf_" + "a" * 34}}}, "hf_" + "a" * 34),
    ("evaluation.suites[0].params.questions",
     {"evaluation": {"suites": [{"heldout": {"questions": "https://h/q?access_token=abc123xyz"}}]}}, "abc123xyz"),
    ("arms.a.data.steps[0].mix.source", {"arms": {"a": {"data": {"import": "/x", "steps": [
        {"mix": {"source": "https://h/x?sig=abcdef123"}}]}}}}, "abcdef123"),
    ("arms.a.data.steps[0].sample", {"arms": {"a": {"data": {"import": "/x", "steps": [
        {"sample": "ghp_" + "c" * 36}]}}}}, "c" * 36),
    ("arms.a.data.params.tasks_file", {"arms": {"a": {"data": {"generate": "g", "params": {
        "tasks_file": "https://u:pw12345@h/t"}}}}}, "pw12345"),
    ("arms.a.data.generate", {"arms": {"a": {"data": {"generate": "AKIAABCDEFGHIJKLMNOP"}}}}, "AKIAABCDEFGHIJKLMNOP"),
    ("endpoints.judge.base_url",
     {"endpoints": {"judge": {"base_url": "https://h/v1?api_key=sk-" + "b" * 30, "model": "m"}}}, "b" * 30),
])
def test_a_literal_credential_is_refused_by_field_without_echoing_it(where: str, change: dict, secret: str) -> None:
    bad = structural_violations(with_defaults(spec_from_dict(_spec(**change))))
    assert [v.field for v in bad] == [where]
    assert secret not in bad[0].description and "secret:<name>" in bad[0].description


def test_references_and_secret_named_key_files_pass() -> None:
    spec = _spec(arms={"a": {"data": {"import": "https://h/x.jsonl?X-Amz-Signature=${secret:sig}"}},
                       "b": {"data": {"import": "secret:ds-url"}}},
                 endpoints={"judge": {"base_url": "https://h/v1", "model": "m", "api_key_file": "openai"}})
    assert structural_violations(with_defaults(spec_from_dict(spec))) == []


def test_key_files_outside_the_secrets_folder_and_bad_names_are_refused_by_field() -> None:
    spec = _spec(endpoints={"judge": {"base_url": "https://h/v1", "model": "m",
                                      "api_key_file": "/run/secrets/nats/password", "api_key_env": "A B"}})
    fields = {v.field for v in structural_violations(with_defaults(spec_from_dict(spec)))}
    assert fields == {"endpoints.judge.api_key_file", "endpoints.judge.api_key_env"}
    bad = structural_violations(with_defaults(spec_from_dict(_spec(arms={"a": {"data": {"import": "secret:a/b"}}}))))
    assert [v.field for v in bad] == ["arms.a.data.import"]
