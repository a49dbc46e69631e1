"""Text of the chat-message shapes trainers pass around (plain strings or message lists)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["message_text"]


def _content(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        # Content parts: [{"type": "text", "text": ...}, {"type": "image"}, ...]
        return "".join(
            part.get("text", "") if isinstance(part, Mapping) else str(part) for part in content
        )
    return "" if content is None else str(content)


def message_text(value: Any, *, last_only: bool) -> str:
    """A completion or prompt as text.

    A string is itself. A list of messages (``{"role", "content"}``) gives the content of
    its last message when ``last_only`` (a completion: the assistant's answer), else
    every message's content joined by blank lines (a prompt).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return _content(value.get("content"))
    if isinstance(value, Sequence):
        texts = [_content(m.get("content")) if isinstance(m, Mapping) else str(m) for m in value]
        if last_only:
            return texts[-1] if texts else ""
        return "\n\n".join(texts)
    raise TypeError(f"expected a string or a list of messages, not {type(value).__name__}")
