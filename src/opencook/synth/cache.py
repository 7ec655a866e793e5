"""Teacher replies on disk, keyed by sha256 of what determines them (model, messages, decoding knobs): the
same prompt is never paid for twice, whichever run or stage asks. One small JSON file per key, written
atomically, so concurrent writers and killed runs never leave a half entry."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from opencook.kit.io import atomic_write


def request_key(model: str, messages: list[dict[str, str]], knobs: dict) -> str:
    """sha256 of the canonical JSON of the request's content (the endpoint URL is deliberately left out: the
    same model behind another address answers the same)."""
    blob = json.dumps({"model": model, "messages": messages, "knobs": knobs}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ReplyCache:
    """``get``/``put`` of reply dicts under ``root/<key[:2]>/<key>.json``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None  # an unreadable entry is a miss; the next put replaces it

    def put(self, key: str, reply: dict) -> None:
        with atomic_write(self._path(key)) as fh:
            json.dump(reply, fh, ensure_ascii=False)
