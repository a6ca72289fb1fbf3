"""Best-path decoding of CTC output when the number of characters is known.

A CTC recogniser reads a line as frames, each a character or "nothing here" (blank); a
character written twice (11) needs a blank frame between its two runs. Handwritten
digits set close together often leave none, and greedy decoding then reads 11 as 1.
Where the ink shows how many digits are written (one per filled cell), the likeliest
path with exactly that many characters is the recogniser's reading of the field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_NEG = -1e18


@dataclass(frozen=True)
class BestPath:
    """Labels (class ids, blank = 0) along the best path, the frame where each label is
    surest, and the path's log probability."""

    labels: tuple[int, ...]
    peaks: tuple[int, ...]
    log_prob: float


def best_path(log_probs: np.ndarray) -> BestPath:
    """The single likeliest path (greedy decoding), for comparison with a constrained one."""
    return _collapse(log_probs, log_probs.argmax(axis=1).tolist())


def best_path_of_length(log_probs: np.ndarray, n: int) -> BestPath | None:
    """The likeliest path through ``log_probs`` (T frames x C classes, class 0 the blank)
    that reads exactly ``n`` characters, or None if the line has too few frames.

    Viterbi over states (characters read so far, this frame's class): a frame may repeat
    the previous class (same character), be blank, or start a new character (any class
    after a blank, any other class after a character).
    """
    t_frames, n_classes = log_probs.shape
    if n < 0 or t_frames == 0:
        return None
    rows = np.arange(n + 1)
    score = np.full((n + 1, n_classes), _NEG)
    score[0, 0] = log_probs[0, 0]
    if n >= 1:
        score[1, 1:] = log_probs[0, 1:]
    # back[t, k, c] = (k', c') the state at frame t-1 that the best path to (k, c) came from
    back = np.zeros((t_frames, n + 1, n_classes, 2), dtype=np.int32)
    for t in range(1, t_frames):
        new = np.full((n + 1, n_classes), _NEG)
        best_any = score.argmax(axis=1)
        new[:, 0] = score[rows, best_any] + log_probs[t, 0]
        back[t, :, 0, 0], back[t, :, 0, 1] = rows, best_any
        order = np.argsort(score, axis=1)
        first, second = order[:, -1], order[:, -2] if n_classes > 1 else order[:, -1]
        for c in range(1, n_classes):
            from_class = np.where(first == c, second, first)  # best previous state that is not c
            start = np.full(n + 1, _NEG)
            start[1:] = score[rows, from_class][:-1]
            stay = score[:, c] >= start
            new[:, c] = np.where(stay, score[:, c], start) + log_probs[t, c]
            back[t, :, c, 0] = np.where(stay, rows, rows - 1)
            shifted = np.zeros(n + 1, dtype=np.int32)
            shifted[1:] = from_class[:-1]
            back[t, :, c, 1] = np.where(stay, c, shifted)
        score = new
    state = int(score[n].argmax())
    if score[n, state] <= _NEG / 2:
        return None
    total = float(score[n, state])
    path, k = [0] * t_frames, n
    for t in range(t_frames - 1, -1, -1):
        path[t] = state
        if t:
            k, state = int(back[t, k, state, 0]), int(back[t, k, state, 1])
    found = _collapse(log_probs, path)
    return BestPath(found.labels, found.peaks, total)


def _collapse(log_probs: np.ndarray, path: list[int]) -> BestPath:
    labels: list[int] = []
    peaks: list[int] = []
    previous = 0
    for t, c in enumerate(path):
        if c and c != previous:
            labels.append(c)
            peaks.append(t)
        elif c and log_probs[t, c] > log_probs[peaks[-1], c]:
            peaks[-1] = t
        previous = c
    total = float(sum(log_probs[t, c] for t, c in enumerate(path)))
    return BestPath(tuple(labels), tuple(peaks), total)
