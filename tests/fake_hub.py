"""A Hugging Face Hub on 127.0.0.1 for download tests: the endpoints huggingface_hub 2.x calls for a
download at a commit hash, and a log of every request.

    with FakeHub({("facebook/sam2.1-hiera-tiny", COMMIT): folder}) as hub:   # the files of `folder`
        env["HF_ENDPOINT"] = hub.url

- `HEAD /` answers (the loader's "does the Hub answer at all" check);
- `GET /api/models/{repo}/tree/{commit}?recursive=...` lists every file with its size (the file list
  `snapshot_download` fetches and records in the cache);
- `HEAD /{repo}/resolve/{commit}/{path}` gives the commit, ETag and size (`hf_hub_download`'s metadata
  call); `GET` of the same path sends the bytes, `chunk` bytes at a time, `delay_s` apart, from where a
  `Range: bytes=N-` header says (206), as the Hub's CDN does.
Checksums are the Hub's: every file's `oid` is its git blob SHA-1, and the files git LFS would hold
(`LFS`: weights, the tokenizer model) list `lfs: {oid: SHA-256, size}` and have the SHA-256 as ETag.
`cut = {path: n}` drops the connection once, after n bytes of that file: a cut network.
Unknown repos and commits get the Hub's 404s (X-Error-Code RepoNotFound / RevisionNotFound).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest


class FakeHub:
    """Serves {(repo_id, commit): folder}; `requests` lists (method, path) of everything asked."""

    def __init__(
        self,
        repos: dict[tuple[str, str], Path],
        chunk: int = 1 << 16,
        delay_s: float = 0.0,
        cut: dict[str, int] | None = None,
    ) -> None:
        self.repos = {key: Path(folder) for key, folder in repos.items()}
        self.chunk, self.delay_s = chunk, delay_s
        self.cut = dict(cut or {})
        self.requests: list[tuple[str, str]] = []
        self.ranges: list[tuple[str, str]] = []  # (path, Range header) of every ranged GET
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep the test output clean
                pass

            def do_HEAD(self) -> None:
                hub.answer(self, body=False)

            def do_GET(self) -> None:
                hub.answer(self, body=True)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def files(self, repo_id: str, commit: str) -> dict[str, Path]:
        folder = self.repos[(repo_id, commit)]
        return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}

    # ----- the endpoints ------------------------------------------------------------------------------------
    def answer(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(urlsplit(handler.path).path)
        self.requests.append((handler.command, path))
        parts = path.strip("/").split("/")
        if path == "/":
            return self._send(handler, 200, b"", body)
        if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] == "tree":
            repo_id, commit = "/".join(parts[2:4]), parts[5]
            if not self._known(handler, repo_id, commit, body):
                return None
            listing = [_tree_entry(name, file) for name, file in self.files(repo_id, commit).items()]
            return self._send(handler, 200, json.dumps(listing).encode(), body, "application/json")
        if len(parts) >= 5 and parts[2] == "resolve":
            repo_id, commit, name = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
            if not self._known(handler, repo_id, commit, body):
                return None
            file = self.files(repo_id, commit).get(name)
            if file is None:
                return self._send(handler, 404, b"", body, headers={"X-Error-Code": "EntryNotFound"})
            data = file.read_bytes()
            etag = _sha256(data) if _is_lfs(name) else _git_sha1(data)
            headers = {"X-Repo-Commit": commit, "ETag": f'"{etag}"'}
            start = _range_start(handler.headers.get("Range"))
            if start:
                self.ranges.append((name, handler.headers["Range"]))
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                return self._send(handler, 206, data[start:], body, headers=headers)
            stop_at = self.cut.pop(name, None) if body else None
            return self._send(handler, 200, data, body, headers=headers, stop_at=stop_at)
        return self._send(handler, 404, b"", body)

    def _known(self, handler: BaseHTTPRequestHandler, repo_id: str, commit: str, body: bool) -> bool:
        if (repo_id, commit) in self.repos:
            return True
        code = "RevisionNotFound" if any(r == repo_id for r, _ in self.repos) else "RepoNotFound"
        self._send(handler, 404, b"", body, headers={"X-Error-Code": code})
        return False

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        data: bytes,
        body: bool,
        content_type: str = "application/octet-stream",
        headers: dict[str, str] | None = None,
        stop_at: int | None = None,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        if not body:
            return
        if stop_at is not None:  # a cut: the promised length never arrives, the connection drops
            handler.wfile.write(data[:stop_at])
            handler.wfile.flush()
            handler.close_connection = True
            return
        try:
            for start in range(0, len(data), self.chunk):
                handler.wfile.write(data[start : start + self.chunk])
                handler.wfile.flush()
                if self.delay_s:
                    time.sleep(self.delay_s)
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading: a cancelled download
            pass


LFS = (".safetensors", ".model", ".pt")


def _is_lfs(name: str) -> bool:
    return name.endswith(LFS)


def _git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tree_entry(name: str, file: Path) -> dict[str, object]:
    """A file as the Hub's tree endpoint lists it; an LFS file's oid is that of its pointer in git."""
    data = file.read_bytes()
    entry: dict[str, object] = {"type": "file", "path": name, "size": len(data), "oid": _git_sha1(data)}
    if _is_lfs(name):
        spec = "version https://git-lfs.github.com/spec/v1"
        pointer = f"{spec}\noid sha256:{_sha256(data)}\nsize {len(data)}\n"
        entry["oid"] = _git_sha1(pointer.encode())
        entry["lfs"] = {"oid": _sha256(data), "size": len(data), "pointerSize": len(pointer)}
    return entry


def _range_start(header: str | None) -> int:
    """N of a `bytes=N-` Range header (0 without one)."""
    if not header or not header.startswith("bytes="):
        return 0
    return int(header.removeprefix("bytes=").split("-", 1)[0] or 0)


def point_at(url: str, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process, what HF_ENDPOINT=url and HF_HUB_CACHE=cache set when huggingface_hub is imported (it
    reads them only then); downloads in 64 KiB steps, instead of 10 MiB, so tiny files show progress."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 1 << 16)
