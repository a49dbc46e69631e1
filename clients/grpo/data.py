"""The prompt dataset: JSONL rows with a prompt, a reference and an optional verifier spec.

Prompts are rendered (template, optional chat template) and tokenized once at
load. ``PromptSampler`` walks the rows in a seeded order, reshuffled every
epoch; its position is one integer, saved in checkpoints.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from referee.clients.grpo.config import DataConfig
from referee.clients.grpo.tokenizer import Tokenizer

__all__ = ["PromptRow", "PromptSampler", "load_prompts"]


@dataclass(frozen=True)
class PromptRow:
    """One training prompt as the policy sees it and as the verifier needs it."""

    index: int
    prompt: str
    prompt_ids: tuple[int, ...]
    reference: Any
    verifier: Any


def load_prompts(cfg: DataConfig, tokenizer: Tokenizer) -> list[PromptRow]:
    """Read, render and tokenize every row; a row missing a field is an error naming it."""
    rows: list[PromptRow] = []
    with cfg.path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{cfg.path}:{n}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not JSON: {exc}") from None
            if not isinstance(raw, dict):
                raise ValueError(f"{where}: expected a JSON object")
            prompt = raw.get(cfg.prompt_field)
            if not isinstance(prompt, str):
                raise ValueError(f"{where}: field {cfg.prompt_field!r} must be a string")
            if cfg.reference_field not in raw:
                raise ValueError(f"{where}: missing field {cfg.reference_field!r}")
            text = tokenizer.render_prompt(
                cfg.prompt_template.format(prompt=prompt), cfg.system_prompt, cfg.chat_template
            )
            try:
                ids = tokenizer.encode(text)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            if not ids:
                raise ValueError(f"{where}: the prompt is empty")
            verifier = raw.get(cfg.verifier_field) if cfg.verifier_field else None
            rows.append(PromptRow(len(rows), text, tuple(ids), raw[cfg.reference_field], verifier))
    if not rows:
        raise ValueError(f"{cfg.path}: no rows")
    return rows


class PromptSampler:
    """Rows in a seeded random order (a new one each epoch), or in file order; resumable."""

    def __init__(
        self, rows: list[PromptRow], seed: int, position: int = 0, shuffle: bool = True
    ) -> None:
        self._rows = rows
        self._seed = seed
        self._shuffle = shuffle
        self.position = position
        self._epoch = -1
        self._order: list[int] = []

    def next(self) -> PromptRow:
        epoch, offset = divmod(self.position, len(self._rows))
        if epoch != self._epoch:
            self._order = list(range(len(self._rows)))
            if self._shuffle:
                random.Random(f"{self._seed}:{epoch}").shuffle(self._order)
            self._epoch = epoch
        self.position += 1
        return self._rows[self._order[offset]]
