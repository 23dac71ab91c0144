"""The fine-tuning façade's request handling without a socket or a training: uploads as the openai client encodes
them, job bodies, training files, cursor pages, and OpenAI's error shapes (the façade trains for real in
tests/slow/test_finetune_facade.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest

from services.trainer.facade import FacadeApi, FacadeSettings, FineTuning, InferenceProxy
from services.trainer.facade.errors import ApiError
from services.trainer.facade.jobs import page
from services.trainer.facade.requests import job_request
from services.trainer.facade.uploads import parse_upload, training_rows

ROW = {"messages": [{"role": "user", "content": "Pick one."}, {"role": "assistant", "content": "A"}]}


def _form(data: bytes, purpose: str = "fine-tune") -> tuple[str, bytes]:
    """A multipart body exactly as httpx (the openai client's transport) encodes a file upload."""
    request = httpx.Request("POST", "http://x/v1/files", data={"purpose": purpose},
                            files={"file": ("rows.jsonl", data, "application/jsonl")})
    return request.headers["content-type"], request.read()


def test_an_upload_is_parsed_as_the_client_sends_it() -> None:
    data = (json.dumps(ROW) + "\n").encode() * 2
    upload = parse_upload(*_form(data))
    assert (upload.filename, upload.purpose, upload.data) == ("rows.jsonl", "fine-tune", data)
    with pytest.raises(ApiError) as error:
        parse_upload("application/json", b"{}")
    assert error.value.status == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize(("text", "problem"), [
    (json.dumps(ROW) + '\nnot json\n', "line 2: not JSON"),
    ('{"prompt": "x"}\n', "line 1: needs `messages`"),
    ('{"messages": [{"role": "user", "content": "x"}]}\n', "line 1: no assistant message"),
    ("\n\n", "no training rows"),
])
def test_a_bad_training_file_names_its_line(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        training_rows(text.encode())


def test_a_job_body_is_checked_field_by_field() -> None:
    request = job_request({"model": "base", "training_file": "file-1", "seed": 3,
                           "hyperparameters": {"n_epochs": 2, "learning_rate_multiplier": 0.5}}, "base")
    assert request.hyperparameters == {"n_epochs": 2, "batch_size": 8, "learning_rate_multiplier": 0.5}
    method = job_request({"model": "base", "training_file": "f", "method": {
        "type": "supervised", "supervised": {"hyperparameters": {"batch_size": 1}}}}, "base")
    assert method.hyperparameters["batch_size"] == 1
    for body, param in [({"training_file": "f"}, "model"), ({"model": "other", "training_file": "f"}, "model"),
                        ({"model": "base"}, "training_file"),
                        ({"model": "base", "training_file": "f", "hyperparameters": {"n_epochs": 0}},
                         "hyperparameters.n_epochs"),
                        ({"model": "base", "training_file": "f", "hyperparameters": {"batch_size": 1.5}},
                         "hyperparameters.batch_size"),
                        ({"model": "base", "training_file": "f", "hyperparameters": {"warmup": 1}},
                         "hyperparameters.warmup"),
                        ({"model": "base", "training_file": "f", "suffix": "x" * 65}, "suffix"),
                        ({"model": "base", "training_file": "f", "metadata": {"k": 1}}, "metadata")]:
        with pytest.raises(ApiError) as error:
            job_request(body, "base")
        assert (error.value.status, error.value.param) == (HTTPStatus.BAD_REQUEST, param), body


def test_pages_follow_the_cursor() -> None:
    items = [{"id": f"i{n}"} for n in range(5)]
    first = page(items, None, 2)
    assert [i["id"] for i in first["data"]] == ["i0", "i1"] and first["has_more"]
    last = page(items, "i2", 5)
    assert [i["id"] for i in last["data"]] == ["i3", "i4"] and not last["has_more"]
    with pytest.raises(ApiError):
        page(items, "gone", 2)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FacadeApi]:
    fine_tuning = FineTuning(tmp_path, FacadeSettings(tmp_path / "model", "base"))
    yield FacadeApi(fine_tuning, InferenceProxy("http://127.0.0.1:9/v1"))
    fine_tuning.close()


def test_errors_have_openais_shape(api: FacadeApi) -> None:
    status, body, _ = api.answer("GET", "/v1/nothing", b"", "")
    assert status == 404 and body == {"error": {"message": "Invalid URL (GET /v1/nothing)",
                                                "type": "invalid_request_error", "param": None, "code": None}}
    status, body, _ = api.answer("GET", "/v1/fine_tuning/jobs/ftjob-x", b"", "")
    assert status == 404 and body["error"]["code"] == "fine_tuning_job_not_found"  # type: ignore[index]
    status, body, _ = api.answer("POST", "/v1/fine_tuning/jobs", b'{"model": "base", "training_file": "file-x"}',
                                 "application/json")
    assert status == 400 and body["error"]["param"] == "training_file"  # type: ignore[index]
    status, body, _ = api.answer("GET", "/v1/fine_tuning/jobs?limit=0", b"", "")
    assert status == 400 and body["error"]["param"] == "limit"  # type: ignore[index]
    status, body, _ = api.answer("POST", "/v1/chat/completions", b'{"model": "ft:nope", "messages": []}', "")
    assert status == 404 and body["error"]["code"] == "model_not_found"  # type: ignore[index]


def test_a_file_round_trips_and_an_unreachable_inference_server_is_a_502(api: FacadeApi) -> None:
    status, created, _ = api.answer("POST", "/v1/files", *reversed(_form(json.dumps(ROW).encode())))
    assert status == 200 and created["purpose"] == "fine-tune"  # type: ignore[index]
    status, got, _ = api.answer("GET", f"/v1/files/{created['id']}", b"", "")  # type: ignore[index]
    assert status == 200 and got == created
    status, body, _ = api.answer("POST", "/v1/chat/completions", b'{"model": "base", "messages": []}', "")
    assert status == 502 and "cannot be reached" in body["error"]["message"]  # type: ignore[index]


def test_a_restarted_facade_lists_its_jobs_and_runs_the_unfinished_again(tmp_path: Path) -> None:
    """A job the façade was running when it stopped is queued again and run from the start; here its file is
    invalid, so the rerun fails at validation, without a model to load."""
    settings = FacadeSettings(tmp_path / "model", "base")
    first = FineTuning(tmp_path, settings)
    upload = parse_upload(*_form(b"not json\n"))
    file_id = first.add_file(upload)["id"]
    first.close()
    job = {"id": "ftjob-old", "object": "fine_tuning.job", "created_at": 1, "status": "running", "model": "base",
           "training_file": file_id, "metadata": {"k": "v"}, "error": None, "finished_at": None}
    (tmp_path / "jobs" / "ftjob-old.json").write_text(json.dumps(
        {"job": job, "events": [], "checkpoints": [], "models": {}, "order": 1}))
    second = FineTuning(tmp_path, settings)
    second.close()  # the worker finishes the queued rerun before it stops
    assert second.file(file_id)["bytes"] == len(b"not json\n")
    assert [j["id"] for j in second.jobs(None, 10, {"k": "v"})["data"]] == ["ftjob-old"]
    assert second.jobs(None, 10, {"k": "other"})["data"] == []
    rerun = second.job("ftjob-old")
    assert rerun["status"] == "failed" and rerun["error"]["code"] == "invalid_training_file"
    messages = [e["message"] for e in reversed(second.events("ftjob-old", None, 10)["data"])]
    assert messages == ["The fine-tuning service restarted; the job starts again", "The job failed"]
