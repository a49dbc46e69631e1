"""Referee's bundled GRPO trainer: ``referee train --config run.yaml``.

Needs the ``train`` extra (torch, transformers, ...); importing this package
imports only the configuration, the rest loads when training starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from referee.clients.grpo.config import TrainConfig, load_config

if TYPE_CHECKING:
    from collections.abc import Callable

    from referee.clients.grpo.scoring import Scorer

__all__ = ["TrainConfig", "load_config", "plot", "train"]


def train(cfg: TrainConfig, scorer_factory: Callable[[], Scorer] | None = None) -> Path:
    """Run a whole training; see ``referee.clients.grpo.trainer.train``."""
    from referee.clients.grpo.trainer import train as _train

    return _train(cfg, scorer_factory)


def plot(output_dir: Path) -> Path:
    """Redraw OUTPUT_DIR/training.png from OUTPUT_DIR/metrics.jsonl."""
    from referee.clients.grpo.metrics import plot_metrics

    return plot_metrics(output_dir)
