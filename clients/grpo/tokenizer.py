"""The tokenizer interface the trainer needs, for Hugging Face tokenizers and a character one.

The trainer only encodes prompts, decodes completions and knows the end and
padding ids; both a pretrained model's tokenizer and the tiny example's
character tokenizer (built in code, no files) fit behind ``Tokenizer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["CharTokenizer", "HFTokenizer", "Tokenizer"]


class Tokenizer(Protocol):
    """What the trainer asks of a tokenizer."""

    eos_token_id: int
    pad_token_id: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def render_prompt(self, prompt: str, system: str | None, chat_template: bool) -> str: ...


class CharTokenizer:
    """One token per character of a fixed alphabet, plus an end token (also the padding).

    Characters outside the alphabet are refused when encoding a prompt, so a
    dataset that does not fit the tiny model fails at load, not mid-run.
    """

    EOS = "\x00"

    def __init__(self, alphabet: str) -> None:
        chars = list(dict.fromkeys(alphabet))
        if not chars:
            raise ValueError("the alphabet is empty")
        self.eos_token_id = 0
        self.pad_token_id = 0
        self._chars = [self.EOS, *chars]
        self._ids = {c: i for i, c in enumerate(self._chars)}

    @property
    def vocab_size(self) -> int:
        return len(self._chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self._ids[c] for c in text]
        except KeyError as exc:
            raise ValueError(
                f"character {exc.args[0]!r} is not in the tokenizer alphabet"
            ) from None

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self._chars[i] for i in ids if i != self.eos_token_id)

    def render_prompt(self, prompt: str, system: str | None, chat_template: bool) -> str:
        if chat_template:
            raise ValueError("the character tokenizer has no chat template")
        return prompt


class HFTokenizer:
    """A Hugging Face tokenizer behind ``Tokenizer``; padding falls back to the end token."""

    def __init__(self, tokenizer: Any) -> None:
        self._tok = tokenizer
        if tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has no end-of-sequence token")
        self.eos_token_id = int(tokenizer.eos_token_id)
        pad = tokenizer.pad_token_id
        self.pad_token_id = int(pad) if pad is not None else self.eos_token_id

    @property
    def hf(self) -> Any:
        return self._tok

    def encode(self, text: str) -> list[int]:
        return list(self._tok(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._tok.decode(list(ids), skip_special_tokens=True))

    def render_prompt(self, prompt: str, system: str | None, chat_template: bool) -> str:
        if not chat_template:
            return prompt if system is None else f"{system}\n\n{prompt}"
        if getattr(self._tok, "chat_template", None) is None:
            raise ValueError("chat_template is on but the tokenizer has no chat template")
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": prompt})
        return str(
            self._tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        )
