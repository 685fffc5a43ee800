"""Back-translation backends: the real SmolLM2 causal model, a real HTTP server on 127.0.0.1,
and a tiny random-init seq2seq model (mechanics only: its output is noise)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from verify.records import Record
from verify.translation.backends import BackendError, Job
from verify.translation.backends.http import HttpBackend
from verify.translation.verifier import TranslationVerifier

JOBS = [Job("Bonjour le monde.", "fr", "en"), Job("Das ist gut.", "de", "en"), Job("保存更改", "zh", "en")]
SPEC = {"source": "Hello world.", "source_lang": "en", "target_lang": "fr"}


def record(translation: str) -> Record:
    return Record(
        id="r", line=1, messages=[{"role": "user", "content": "t"}, {"role": "assistant", "content": translation}],
        checks={"translation": SPEC},
    )  # fmt: skip


# ----------------------------------------------------------------------------- HTTP servers
class Server:
    """A real HTTP server on 127.0.0.1 (an ephemeral port) running `answer(path, body)`."""

    def __init__(self, answer: Any) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, payload, headers = answer(self.path, body, len(outer.requests))
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def chat_reply(text: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}


def test_http_backend_speaks_openai_chat(monkeypatch):
    monkeypatch.setenv("TEST_TRANSLATION_KEY", "sk-test")
    with Server(lambda path, body, n: (200, chat_reply(f"  echo {n}  "), {})) as server:
        backend = HttpBackend(server.endpoint, "tiny-model", api_key_env="TEST_TRANSLATION_KEY", concurrency=1)
        assert backend.translate(JOBS[:2]) == ["echo 1", "echo 2"]
    first = server.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["headers"]["Authorization"] == "Bearer sk-test"
    assert first["body"]["model"] == "tiny-model" and first["body"]["temperature"] == 0
    assert [message["role"] for message in first["body"]["messages"]] == ["system", "user"]
    assert first["body"]["messages"][1]["content"].startswith("Translate the following French text into English.")
    assert first["body"]["messages"][1]["content"].endswith("\n\nBonjour le monde.")


def test_http_backend_completions_api():
    with Server(lambda path, body, n: (200, {"choices": [{"text": " Hello world. "}]}, {})) as server:
        backend = HttpBackend(server.endpoint, "m", api="completions")
        assert backend.translate(JOBS[:1]) == ["Hello world."]
    assert server.requests[0]["path"] == "/v1/completions"
    assert server.requests[0]["body"]["prompt"].endswith("English translation:\n")


def test_http_backend_retries_503_and_429_then_succeeds():
    script = {1: (503, {"error": "loading"}, {}), 2: (429, {"error": "slow down"}, {"Retry-After": "0"})}
    with Server(lambda path, body, n: script.get(n, (200, chat_reply("ok"), {}))) as server:
        backend = HttpBackend(server.endpoint, "m", retries=2, backoff_s=0.01)
        assert backend.translate(JOBS[:1]) == ["ok"]
    assert len(server.requests) == 3


def test_http_backend_client_errors_are_not_retried():
    with Server(lambda path, body, n: (400, {"error": "bad model"}, {})) as server:
        [result] = HttpBackend(server.endpoint, "m", retries=3, backoff_s=0.01).translate(JOBS[:1])
    assert isinstance(result, BackendError)
    assert str(result).endswith('answered HTTP 400: {"error": "bad model"}')
    assert len(server.requests) == 1


def test_http_backend_bad_answers_and_timeouts_become_errors():
    with Server(lambda path, body, n: (200, {"choices": []}, {})) as server:
        [result] = HttpBackend(server.endpoint, "m", retries=0).translate(JOBS[:1])
    assert "answered without choices[0].message.content" in str(result)

    def slow(path: str, body: Any, n: int) -> tuple[int, Any, dict[str, str]]:
        time.sleep(1.0)
        return 200, chat_reply("late"), {}

    with Server(slow) as server:
        started = time.perf_counter()
        [result] = HttpBackend(server.endpoint, "m", timeout_s=0.2, retries=1, backoff_s=0.01).translate(JOBS[:1])
    assert isinstance(result, BackendError) and "(gave up after 2 attempts)" in str(result)
    assert time.perf_counter() - started < 1.5


def test_missing_api_key_variable_is_an_error(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    [result] = HttpBackend("http://127.0.0.1:9/v1", "m", api_key_env="NO_SUCH_KEY_VAR").translate(JOBS[:1])
    assert str(result) == "environment variable NO_SUCH_KEY_VAR (api_key_env) is not set"


def test_unreachable_backend_gives_error_verdicts_never_pass_or_fail():
    with Server(lambda path, body, n: (200, chat_reply("x"), {})) as server:
        endpoint = server.endpoint  # a port that was just closed: nothing listens there
    checker = TranslationVerifier(
        {"backend": "http", "endpoint": endpoint, "model": "m", "retries": 1, "backoff_s": 0.01, "timeout_s": 2}
    )
    verdicts = checker.verify_batch([(record("Bonjour le monde."), SPEC), (record("Salut tout le monde."), SPEC)])
    assert [(v.status, v.code) for v in verdicts] == [("error", "translation.backend_error")] * 2
    assert verdicts[0].reason.startswith(f"back-translation failed: {endpoint}/chat/completions unreachable: ")
    # a row that already failed deterministically is decided without the backend
    [failed] = checker.verify_batch([(record("Hello world."), SPEC)])
    assert (failed.status, failed.code) == ("fail", "translation.untranslated")


# ----------------------------------------------------------------------------- SmolLM2 (real)
@pytest.fixture(scope="module")
def causal(smollm2_hf: Path) -> Iterator[Any]:
    from verify.translation.backends.causal import CausalBackend

    backend = CausalBackend(str(smollm2_hf), device="cpu", batch_size=2, max_new_tokens=8)
    backend.load()
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def batched(causal: Any) -> list[Any]:
    """SmolLM2's back-translations of two jobs in one padded batch (generated once: CPU time)."""
    return causal.translate(JOBS[:2])


@pytest.mark.model
def test_causal_prompt_uses_the_models_chat_template(causal):
    prompt = causal.prompt(JOBS[0])
    assert prompt.startswith("<|im_start|>system\nYou are a professional translator.")
    assert "<|im_start|>user\nTranslate the following French text into English." in prompt
    assert prompt.endswith("Bonjour le monde.<|im_end|>\n<|im_start|>assistant\n")


@pytest.mark.model
def test_causal_backend_batches_deterministically(causal, batched):
    assert all(isinstance(text, str) and text for text in batched)
    # greedy and padding-independent: each job alone gives what it gave inside the batch
    assert [causal.translate([job])[0] for job in JOBS[:2]] == batched


@pytest.mark.model
def test_http_backend_against_a_server_serving_smollm2(causal, batched):
    """A tiny OpenAI-compatible server runs SmolLM2 through transformers; the HTTP backend
    must get exactly what the in-process causal backend generates for the same prompt."""
    import torch

    def serve(path: str, body: dict[str, Any], n: int) -> tuple[int, Any, dict[str, str]]:
        tokenizer, model = causal._tokenizer, causal._model
        text = tokenizer.apply_chat_template(body["messages"], tokenize=False, add_generation_prompt=True)
        encoded = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            output = model.generate(**encoded, do_sample=False, max_new_tokens=body["max_tokens"],
                                    pad_token_id=tokenizer.pad_token_id)  # fmt: skip
        reply = tokenizer.decode(output[0, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
        return 200, chat_reply(reply), {}

    with Server(serve) as server:
        over_http = HttpBackend(server.endpoint, "smollm2", max_tokens=8, concurrency=1).translate(JOBS[:2])
    assert over_http == batched


@pytest.mark.model
def test_verifier_round_trip_with_the_causal_backend(smollm2_hf):
    checker = TranslationVerifier(
        {"backend": "causal", "model": str(smollm2_hf), "device": "cpu", "max_new_tokens": 8, "chrf_min": 0,
         "negation": False}
    )  # fmt: skip
    spec = {"source": "Good morning.", "source_lang": "en", "target_lang": "fr"}
    with_bt = {**spec, "back_translation": "Good morning."}
    rows = [
        (record("Bonjour."), spec),  # back-translated by SmolLM2
        (record("Bonjour."), with_bt),  # the record's own back-translation wins
        (record("Good morning."), spec),  # already failed: no model call
    ]
    verdicts = checker.verify_batch(rows)
    assert verdicts[0].status == "pass" and verdicts[0].details["back_translation"]["from"] == "causal"
    assert isinstance(verdicts[0].details["back_translation"]["text"], str)
    assert verdicts[1].details["back_translation"]["from"] == "record"
    assert verdicts[2].code == "translation.untranslated" and "back_translation" not in verdicts[2].details
    checker.close()


def test_causal_backend_that_cannot_load_errors_every_job(tmp_path):
    from verify.translation.backends.causal import CausalBackend

    results = CausalBackend(str(tmp_path / "missing")).translate(JOBS[:2])
    assert all(isinstance(result, BackendError) for result in results)
    assert str(results[0]).startswith(f"could not load causal model '{tmp_path / 'missing'}'")


# ----------------------------------------------------------------------------- seq2seq (random init)
@pytest.fixture(scope="module")
def tiny_nllb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init M2M100 (NLLB's architecture) with a word-level tokenizer that knows the
    NLLB language tokens: behaviour only, its translations are noise."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import M2M100Config, M2M100ForConditionalGeneration, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-nllb")
    specials = ["<pad>", "</s>", "<s>", "<unk>", "eng_Latn", "fra_Latn", "zho_Hans"]
    words = "hello world good morning bonjour le monde das ist gut".split()
    vocabulary = {token: index for index, token in enumerate(specials + words)}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", bos_token="<s>", unk_token="<unk>",
        additional_special_tokens=specials[4:],
    )  # fmt: skip
    fast.save_pretrained(folder)
    import torch

    torch.manual_seed(0)
    config = M2M100Config(
        vocab_size=len(vocabulary), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
        pad_token_id=0, eos_token_id=1, bos_token_id=2, decoder_start_token_id=1,
    )  # fmt: skip
    M2M100ForConditionalGeneration(config).save_pretrained(folder)
    return folder


def test_seq2seq_backend_detects_nllb_codes_and_forces_the_target_language(tiny_nllb):
    from verify.translation.backends.seq2seq import Seq2SeqBackend

    backend = Seq2SeqBackend(str(tiny_nllb), device="cpu", batch_size=2, max_new_tokens=6)
    tokenizer, model, style = backend.load(str(tiny_nllb))
    assert style == "nllb"
    extra = backend._language_setup(tokenizer, style, Job("bonjour le monde", "fr", "en"))
    assert extra == {"forced_bos_token_id": tokenizer.convert_tokens_to_ids("eng_Latn")}
    jobs = [Job("bonjour le monde", "fr", "en"), Job("das ist gut", "fr", "en"), Job("hello", "fr", "en")]
    batched = backend.translate(jobs)
    assert all(isinstance(text, str) for text in batched)
    assert backend.translate(jobs) == batched
    [unknown] = backend.translate([Job("hello", "xh", "en")])
    assert str(unknown) == "no NLLB language code known for 'xh'"


def test_seq2seq_model_path_template_loads_one_model_per_pair(tiny_nllb, tmp_path):
    from verify.translation.backends.seq2seq import Seq2SeqBackend

    (tmp_path / "fr-en").symlink_to(tiny_nllb)
    backend = Seq2SeqBackend(str(tmp_path / "{src}-{tgt}"), device="cpu", max_new_tokens=4)
    results = backend.translate([Job("bonjour", "fr", "en"), Job("gut", "de", "en")])
    assert isinstance(results[0], str)
    assert isinstance(results[1], BackendError) and "could not load seq2seq model" in str(results[1])
    assert list(backend._loaded) == [str(tmp_path / "fr-en")]
