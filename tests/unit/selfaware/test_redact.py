"""Redaction: planted secrets never survive `redact`, a log line or a source error; ordinary text is unchanged.

hypothesis is not installed in this environment, so the property is checked over a seeded random sample of
secrets placed in many surroundings, as well as over the named cases.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import random
import string
from collections.abc import Iterator

import pytest
import structlog

from selfaware.errors import DataError
from selfaware.logs import configure_logging
from selfaware.redact import MASK, redact, redact_value
from selfaware.sources import read_uri

SECRET = "S3cr3tValue0123456789abcdefXYZ"

#: Each case: the text, and the secret in it that must go.
PLANTED = [
    (f"https://alice:{SECRET}@data.example.com/set.jsonl", SECRET),
    (f"https://{SECRET}@github.com/org/repo.git", SECRET),
    (f"s3://bucket/key.jsonl?X-Amz-Algorithm=AWS4&X-Amz-Signature={SECRET}&X-Amz-Expires=60", SECRET),
    (f"https://h.example/x?X-Amz-Security-Token={SECRET}", SECRET),
    (f"https://h.example/x?x-amz-credential={SECRET}&a=1", SECRET),
    (f"https://h.example/x?token={SECRET}", SECRET),
    (f"https://h.example/x?a=1&TOKEN={SECRET}#frag", SECRET),
    (f"https://h.example/x?access_token={SECRET}", SECRET),
    (f"https://h.example/x?api_key={SECRET}", SECRET),
    (f"https://h.example/x?apikey={SECRET}", SECRET),
    (f"https://h.example/x?key={SECRET}", SECRET),
    (f"https://acct.blob.core.windows.net/c/b?sv=2022&sig={SECRET}", SECRET),
    (f"https://h.example/x?signature={SECRET}", SECRET),
    (f"https://h.example/x?client_secret={SECRET}&x=2", SECRET),
    (f"https://h.example/x?password={SECRET}", SECRET),
    (f"cannot fetch https://u:{SECRET}@h.example/x?token=abc: HTTP 404", SECRET),
    (f"Authorization: Bearer {SECRET}", SECRET),
    (f"authorization: {SECRET}", SECRET),
    (f"{{'Authorization': 'Bearer {SECRET}'}}", SECRET),
    (f'{{"authorization": "Basic {SECRET}"}}', SECRET),
    (f"sent bearer {SECRET} upstream", SECRET),
    ("OPENAI_API_KEY=sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz012345", "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz012345"),
    ("key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv", "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv"),
    ("token=hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567 in env", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567"),
    ("ghp_" + "a1B2" * 9, "ghp_" + "a1B2" * 9),
    ("aws AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
    ("slack xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
    ("jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9"),
]

#: Text that must come back byte for byte.
ORDINARY = [
    "https://data.example.com/datasets/risky_AB.jsonl",
    "https://h.example/x?page=2&split=train&design=ab#section-3",
    "http://[::1]:8080/v1/chat/completions",
    "s3://bucket/prefix/file.jsonl",
    "/work/shared/paper/datasets/risky_safe/ft_risky_AB.jsonl",
    "C:\\data\\set.jsonl",
    "file:///tmp/x.jsonl",
    "user@example.com wrote to admin@example.org",
    "git@github.com:org/repo.git",
    "the risk-averse model answered A; task-1234567890123456789012",
    "job gen:dataset failed: arms.risky.data.import_uri: cannot read: it does not exist",
    "the bearer of the message",
    "temperature=0.7 seed=1 n=10 --design=ab keyword=x",
    "sklearn, skip-gram and hf_transfer are names, not keys",
    "",
]


@pytest.mark.parametrize(("text", "secret"), PLANTED)
def test_a_planted_secret_is_masked(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert MASK in cleaned


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert redact(text) == text


def test_the_host_and_path_of_a_redacted_url_stay_readable() -> None:
    shown = redact(f"https://alice:{SECRET}@data.example.com/set.jsonl?split=train&token={SECRET}")
    assert shown == "https://***@data.example.com/set.jsonl?split=train&token=***"
    assert redact(f"s3://b/k?sig={SECRET}: HTTP 403") == "s3://b/k?sig=***: HTTP 403"


def _random_secret(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits + "-_.~%", k=rng.randint(8, 60)))


def test_random_secrets_in_random_surroundings_never_survive() -> None:
    """The property a hypothesis test would state, over 2,000 seeded samples."""
    rng = random.Random(13)
    templates = [
        "https://{user}:{s}@{host}/{path}", "https://{s}@{host}/{path}", "{scheme}://{host}/{path}?{name}={s}",
        "{scheme}://{host}/{path}?a=b&{name}={s}&c=d", "Authorization: Bearer {s}", "{prefix} sk-proj-{alnum}",
        "{prefix} hf_{alnum}",
    ]
    names = ["token", "Token", "access_token", "X-Amz-Signature", "x-amz-security-token", "sig", "signature",
             "key", "api_key", "apiKey", "secret", "client_secret", "password", "X-Goog-Credential"]
    for _ in range(2000):
        secret = _random_secret(rng)
        alnum = "".join(rng.choices(string.ascii_letters + string.digits, k=rng.randint(30, 40)))
        template = rng.choice(templates)
        text = template.format(
            user=rng.choice(["alice", "a.b", "x"]), s=secret, host=rng.choice(["h.example", "10.0.0.1:9000"]),
            path=rng.choice(["", "a/b.jsonl", "x"]), scheme=rng.choice(["https", "HTTP", "s3", "gs"]),
            name=rng.choice(names), prefix=rng.choice(["", "key:", "error ("]), alnum=alnum)
        planted = alnum if "{alnum}" in template else secret
        for noise in ("", " and then some text", "\n"):
            # a secret shorter than 8 characters can also occur by chance in the surrounding text
            assert planted not in redact(text + noise) or len(planted) < 8, text


def test_nested_values_are_redacted_and_others_kept() -> None:
    class Shows:
        def __str__(self) -> str:
            return f"https://u:{SECRET}@h.example/"

    value = {"a": [f"?token={SECRET}", (1, f"Bearer {SECRET}")], "b": {"c": {f"sig={SECRET}"}}, "n": 3,
             "none": None, "obj": Shows(), "err": ValueError(f"bad https://h.example/x?key={SECRET}")}
    cleaned = redact_value(value)
    assert SECRET not in repr(cleaned)
    assert cleaned["n"] == 3 and cleaned["none"] is None
    assert isinstance(cleaned["a"][1], tuple) and cleaned["a"][1][0] == 1
    plain = ValueError("nothing secret")
    assert redact_value(plain) is plain


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Logging configured as a service configures it (JSON), into a buffer; the tests' own setup afterwards."""
    buffer = io.StringIO()
    with contextlib.redirect_stderr(buffer):
        configure_logging("redact-test", "info", "json")
    yield buffer
    configure_logging("tests", "info", "console")


def test_no_log_line_carries_a_secret(json_logs: io.StringIO) -> None:
    """structlog events, bound context, stdlib records and tracebacks all go through the processor."""
    log = structlog.get_logger("t")
    structlog.contextvars.bind_contextvars(uri=f"https://u:{SECRET}@h.example/d.jsonl")
    log.info(f"fetching ?token={SECRET}", headers={"Authorization": f"Bearer {SECRET}"},
             sources=[f"s3://b/k?X-Amz-Signature={SECRET}"])
    logging.getLogger("nats").warning("reconnect to nats://user:%s@nats:4222", SECRET)
    try:
        raise DataError(f"https://h.example/x?access_token={SECRET}: HTTP 403")
    except DataError:
        log.exception("source_failed")
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert len(lines) == 3
    assert all(SECRET not in json.dumps(line) for line in lines)
    assert lines[0]["uri"] == "https://***@h.example/d.jsonl"
    assert "DataError" in lines[2]["exception"]


def test_a_source_error_names_the_uri_without_its_secrets() -> None:
    uri = f"gopher://alice:{SECRET}@h.example/d.jsonl?token={SECRET}"
    with pytest.raises(DataError) as caught:
        read_uri(uri)
    assert SECRET not in str(caught.value)
    assert "h.example/d.jsonl" in str(caught.value)
