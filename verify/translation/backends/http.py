"""Back-translation through an OpenAI-compatible HTTP server (vLLM, TGI, llama.cpp, ...).

`endpoint` is the API base URL (`http://127.0.0.1:8000/v1`); requests go to
`{endpoint}/chat/completions` (or `/completions` with `api = "completions"`), greedy
(temperature 0). Each request has a socket timeout and is retried with exponential backoff on
connection errors, timeouts, 408/409/429 and 5xx answers (honouring a short Retry-After);
other answers fail at once. A job that still fails becomes a BackendError, hence an `error`
verdict. The API key is read from the environment variable named by `api_key_env`, never
from the options, because options are written into the run manifest.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from verify.translation.backends.base import (
    BackendError,
    BackTranslator,
    Job,
    Result,
    chat_messages,
    completion_prompt,
    progress,
)

RETRYABLE_STATUS = {408, 409, 429}
MAX_RETRY_AFTER_S = 30.0


class _Retryable(Exception):
    def __init__(self, message: str, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.wait_s = wait_s


class HttpBackend(BackTranslator):
    name = "http"

    def __init__(
        self,
        endpoint: str,
        model: str,
        api: str = "chat",
        api_key_env: str | None = None,
        timeout_s: float = 60.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        concurrency: int = 4,
        max_tokens: int = 1024,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.model = model
        self.api = api
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.concurrency = concurrency
        self.max_tokens = max_tokens

    @property
    def url(self) -> str:
        return f"{self.endpoint}/{'chat/completions' if self.api == 'chat' else 'completions'}"

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "endpoint": self.endpoint, "model": self.model, "api": self.api}

    def payload(self, job: Job) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "temperature": 0, "max_tokens": self.max_tokens}
        if self.api == "chat":
            body["messages"] = chat_messages(job)
        else:
            body["prompt"] = completion_prompt(job)
        return body

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise BackendError(f"environment variable {self.api_key_env} (api_key_env) is not set")
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _answer_text(self, answer: Any) -> str:
        try:
            choice = answer["choices"][0]
            text = choice["message"]["content"] if self.api == "chat" else choice["text"]
        except (KeyError, IndexError, TypeError) as exc:
            field = "choices[0].message.content" if self.api == "chat" else "choices[0].text"
            raise BackendError(f"{self.url} answered without {field}: {json.dumps(answer)[:200]}") from exc
        if not isinstance(text, str):
            raise BackendError(f"{self.url} answered a non-text translation: {text!r}"[:300])
        return text.strip()

    def _attempt(self, data: bytes, headers: dict[str, str]) -> str:
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            snippet = exc.read()[:200].decode("utf-8", "replace")
            message = f"{self.url} answered HTTP {exc.code}: {snippet}"
            if exc.code in RETRYABLE_STATUS or exc.code >= 500:
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                wait = float(retry_after) if retry_after and retry_after.isdigit() else None
                raise _Retryable(message, wait) from exc
            raise BackendError(message) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _Retryable(f"{self.url} unreachable: {reason}") from exc
        try:
            answer = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _Retryable(f"{self.url} answered invalid JSON: {raw[:200]!r}") from exc
        return self._answer_text(answer)

    def request(self, job: Job) -> Result:
        """One job, retried as the module docstring says; never raises."""
        try:
            headers = self.headers()
        except BackendError as exc:
            return exc
        data = json.dumps(self.payload(job)).encode("utf-8")
        last = ""
        for attempt in range(self.retries + 1):
            try:
                return self._attempt(data, headers)
            except BackendError as exc:
                return exc
            except _Retryable as exc:
                last = str(exc)
                if attempt < self.retries:
                    wait = exc.wait_s if exc.wait_s is not None else self.backoff_s * 2**attempt
                    time.sleep(min(wait, MAX_RETRY_AFTER_S))
        return BackendError(f"{last} (gave up after {self.retries + 1} attempts)")

    def translate(self, jobs: Sequence[Job]) -> list[Result]:
        if not jobs:
            return []
        results: list[Result] = []
        with progress(len(jobs), "back-translating (http)") as advance, ThreadPoolExecutor(self.concurrency) as pool:
            for result in pool.map(self.request, jobs):
                results.append(result)
                advance(1)
        return results
