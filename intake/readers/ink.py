"""The ink a writer added to the blank form inside a box.

Everything the readers decide starts here: the aligned page minus the
template's own print (dilated a little, since alignment is never perfect),
without fax speckle or scanner streaks. A fax is not a rigid sheet: lost or
repeated scan lines and paper slip shift parts of the page by a few pixels that
no single homography captures, so each box is first re-registered locally
against the print around it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from intake.model import AlignedPage, Box

if TYPE_CHECKING:
    from intake.template import Template

# Pixel lengths and areas below are measured at TUNED_DPI (intake.template); where a function has
# the template, it scales them to the template's working dpi (Template.scaled, scaled_area).
INK_THRESHOLD = 150
PRINT_THRESHOLD = 200  # the blank reference is clean greyscale: anything darker than this is print
PRINT_DILATE_PX = 2
MIN_COMPONENT_PX = 8  # speckle at 200 dpi is a few pixels; the smallest pen dot is bigger
LOCAL_SEARCH_PX = 6  # how far a box may have drifted from the global alignment
CONTEXT_PX = 18  # print around a box (its ruled lines, neighbouring words) used to find the drift

_PRINT_MASKS: dict[tuple[str, int], np.ndarray] = {}


def print_mask(template: Template) -> np.ndarray:
    """The template's own ink (dilated), as bool: pixels that belong to the printed form."""
    key = (template.id, id(template))
    if key not in _PRINT_MASKS:
        ink = (template.reference < PRINT_THRESHOLD).astype(np.uint8)
        k = 2 * template.scaled(PRINT_DILATE_PX) + 1
        _PRINT_MASKS[key] = cv2.dilate(ink, np.ones((k, k), np.uint8)) > 0
    return _PRINT_MASKS[key]


def clamp(box: Box, shape: tuple[int, int], pad: int = 0) -> Box:
    h, w = shape[:2]
    return Box(max(0, box.x0 - pad), max(0, box.y0 - pad), min(w, box.x1 + pad), min(h, box.y1 + pad))


def crop_padded(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, fill: int = 255) -> np.ndarray:
    """image[y0:y1, x0:x1], padded with ``fill`` where the box leaves the image."""
    h, w = image.shape[:2]
    out = np.full((y1 - y0, x1 - x0), fill, dtype=image.dtype)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out


def local_offset(aligned: AlignedPage, template: Template, box: Box) -> tuple[int, int]:
    """(dx, dy): where the print around ``box`` really is on the aligned page, relative to the template."""
    ctx = clamp(box, template.reference.shape, template.scaled(CONTEXT_PX))
    ref_f = _blurred_print(template, ctx)
    if ref_f is None:
        return 0, 0  # nothing printed nearby to register on
    r = template.scaled(LOCAL_SEARCH_PX)
    page = crop_padded(aligned.image, ctx.x0 - r, ctx.y0 - r, ctx.x1 + r, ctx.y1 + r)
    page_f = cv2.GaussianBlur(255 - page, (5, 5), 0).astype(np.float32)
    scores = cv2.matchTemplate(page_f, ref_f, cv2.TM_CCORR_NORMED)
    _, best, _, (x, y) = cv2.minMaxLoc(scores)
    return x - r, y - r


_BLURRED_PRINT: dict[tuple, np.ndarray | None] = {}


def _blurred_print(template: Template, ctx: Box) -> np.ndarray | None:
    """The blank form's print in ``ctx``, inverted and blurred as ``local_offset`` matches it (so that
    a one-pixel jagged fax edge does not decide the match), or None where too little is printed.
    Kept per template and box: every page asks for the same boxes."""
    key = (template.id, id(template), ctx.x0, ctx.y0, ctx.x1, ctx.y1)
    if key not in _BLURRED_PRINT:
        ref = ctx.crop(template.reference)
        enough = np.count_nonzero(ref < 128) >= 0.01 * ref.size
        _BLURRED_PRINT[key] = cv2.GaussianBlur(255 - ref, (5, 5), 0).astype(np.float32) if enough else None
    return _BLURRED_PRINT[key]


def added_ink(aligned: AlignedPage, template: Template, box: Box, pad: int = 0,
              pen_on_print: bool = False) -> tuple[np.ndarray, Box]:
    """A uint8 0/1 mask of handwriting inside ``box`` (grown by ``pad`` pixels at TUNED_DPI), and the
    box actually used (in template coordinates; the page was read where the box's surroundings really are).

    ``pen_on_print`` also gives back strokes written along a ruled line (see :func:`pen_along_print`);
    meant for cells, whose sides are the ruled lines.
    """
    b = clamp(box, aligned.image.shape, template.scaled(pad))
    dx, dy = local_offset(aligned, template, b)
    ink = crop_padded(aligned.image, b.x0 + dx, b.y0 + dy, b.x1 + dx, b.y1 + dy) < INK_THRESHOLD
    printed = b.crop(print_mask(template))
    lengths = MaskLengths.of(template)
    hand = remove_streaks(remove_specks((ink & ~printed).astype(np.uint8), lengths.min_component_area), printed,
                          runs_on=lambda axis, a, e: _runs_on_past(aligned, template, b, dx, dy, axis, a, e), lengths=lengths)
    hand = hand | mend_across_print(hand, ink & printed, lengths)
    if pen_on_print:
        hand = hand | pen_along_print(hand, ink, printed, b.crop(template.reference) < PRINT_THRESHOLD, lengths)
    return hand, b


PEN_ON_PRINT_MIN_PX = 12  # a widening of a line smaller than this is the fax's ragged edge
# How much wider than its usual run across a line the ink must be to hold pen: (vertical lines,
# horizontal lines). A fax scans across at a fixed 204 dpi, so vertical lines keep crisp edges;
# down the page it may scan at 98 dpi, and horizontal lines come out a row or two ragged.
# Measured on 320 development faxes, wrong digit fields: without this 112; both 0 px 120, both
# 1 px 101, both 2 px 104; then, with the streak fix in and horizontal lines at 2 px, vertical
# lines at 0 px 105, 1 px 98, 2 px 101.
PEN_ON_PRINT_WIDENING_PX = (1, 2)
RULED_LINE_MIN_COVER = 0.6  # a printed row or column this full is a ruled line (a cell's side)
RULED_LINE_BAND_PX = 4  # the line on the page lies within this of where the template has it


def pen_along_print(hand: np.ndarray, ink: np.ndarray, printed: np.ndarray, template_ink: np.ndarray,
                    lengths: MaskLengths | None = None) -> np.ndarray:
    """Pixels of the print to give back to the handwriting where a pen stroke runs along a ruled line.

    Subtracting the dilated print erases a stroke that lies on a cell line: an 8 whose left
    loops follow the line is read as 3, a 7 whose bar lies on the top line as 1, and both
    readers agree on it. The fax shows such a stroke as a stretch where the line is wider
    than it is elsewhere in the box; where that stretch touches one stroke of handwriting, it
    is pen. A stretch touching two substantial strokes is the line between two digits that
    both reach it: giving it back would join them into one.

    On 320 development faxes this made 13 comb numbers right that were wrong (6 of them read
    wrong alike by both readers) and 1 wrong that was right (flagged as a dispute).
    """
    out = np.zeros_like(hand)
    if not hand.any():
        return out
    lengths = lengths or AT_TUNED_DPI
    wide = np.zeros(hand.shape, bool)
    ink8 = ink.astype(np.uint8)
    for axis in (0, 1):  # vertical lines, then horizontal ones
        lines = np.nonzero(template_ink.mean(axis=axis) >= RULED_LINE_MIN_COVER)[0]
        if len(lines) == 0:
            continue
        zone = np.zeros(hand.shape, bool)
        runs = []  # the ink across each line, row by row (or column by column), all lines pooled
        for c in lines:
            near = slice(max(0, c - lengths.ruled_line_band), c + lengths.ruled_line_band + 1)
            band = (slice(None), near) if axis == 0 else (near, slice(None))
            zone[band] = True
            runs.append(ink[band].sum(axis=1 - axis))
        k = max(1, round(float(np.median(np.concatenate(runs))))) + lengths.pen_on_print_widening[axis] + 1
        # An opening across the line keeps only the stretches where ink is wider than the line.
        kernel = np.ones((1, k) if axis == 0 else (k, 1), np.uint8)
        wide |= (cv2.morphologyEx(ink8, cv2.MORPH_OPEN, kernel) > 0) & zone
    candidate = (wide & printed & (hand == 0)).astype(np.uint8)
    if not candidate.any():
        return out
    _, strokes, stroke_stats, _ = cv2.connectedComponentsWithStats(hand, connectivity=8)
    substantial = stroke_stats[:, cv2.CC_STAT_AREA] >= lengths.substantial_area
    n, labels, stats, _ = cv2.connectedComponentsWithStats(candidate, connectivity=8)
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < lengths.pen_on_print_min_area:
            continue
        piece = labels == i
        near = cv2.dilate(piece.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        touched = set(np.unique(strokes[near]).tolist()) - {0}
        if touched and sum(bool(substantial[t]) for t in touched) <= 1:
            out[piece] = 1
    return out


MEND_SPAN_PX = 2 * PRINT_DILATE_PX + 5  # a printed line, its dilation and a pixel of slack each side
MEND_MAX_SHARE = 0.5  # the cut-off part is at most this share of the stroke it is joined back to
MEND_MAX_CROSSING_PX = 10  # a pen crossing a ruled line does so in a few rows or columns
MEND_MAX_WIDENING = 1.5  # ... and widens it at most this much (a neighbouring digit would double it)


def mend_across_print(hand: np.ndarray, inked_print: np.ndarray, lengths: MaskLengths | None = None) -> np.ndarray:
    """Pixels of the print to give back to the handwriting where a pen stroke crosses a ruled line.

    Subtracting the (dilated) print cuts a stroke that crosses a cell line: an 8 written over
    the line loses its left arc, which then counts as ink of the next cell, and both readers
    see a 3. Where a piece faces a larger one across inked print within MEND_SPAN_PX, in a
    row or a column, the print between them is pen. Two digits written either side of a cell
    line are not joined: neither is a small part of the other.
    """
    if not inked_print.any() or not hand.any():
        return np.zeros_like(hand)
    lengths = lengths or AT_TUNED_DPI
    _, pieces, stats, _ = cv2.connectedComponentsWithStats(hand, connectivity=8)
    out = np.zeros_like(hand)
    # A stroke crosses a horizontal line in a few columns, a vertical one in a few rows; a
    # longer bridge is a loop lying along the line, and filling it would blot the digit.
    span = lengths.mend_span
    for kernel, along in (((1, span), cv2.CC_STAT_HEIGHT), ((span, 1), cv2.CC_STAT_WIDTH)):
        closed = cv2.morphologyEx(hand, cv2.MORPH_CLOSE, np.ones(kernel, np.uint8))
        bridges = (closed & inked_print & (hand == 0)).astype(np.uint8)
        n, labels, bstats, _ = cv2.connectedComponentsWithStats(bridges, connectivity=8)
        for i in range(1, n):
            if bstats[i, along] > lengths.mend_max_crossing:
                continue
            x, y, w, h = (int(v) for v in bstats[i, :4])
            around = (slice(max(0, y - 1), y + h + 1), slice(max(0, x - 1), x + w + 1))
            this = (labels[around] == i).astype(np.uint8)
            if _joins_a_cut_off_part(pieces[around], stats, cv2.dilate(this, np.ones((3, 3), np.uint8)) > 0, lengths):
                out[around] |= this
    return out


def _joins_a_cut_off_part(pieces: np.ndarray, stats: np.ndarray, near: np.ndarray, lengths: MaskLengths) -> bool:
    """Whether the pieces next to a bridge are a stroke and a small part cut off it (not two digits)."""
    touched = set(np.unique(pieces[near]).tolist()) - {0}
    if len(touched) != 2:
        return False
    small, large = sorted(touched, key=lambda j: stats[j, cv2.CC_STAT_AREA])
    x0 = min(stats[j, cv2.CC_STAT_LEFT] for j in touched)
    x1 = max(stats[j, cv2.CC_STAT_LEFT] + stats[j, cv2.CC_STAT_WIDTH] for j in touched)
    return (lengths.min_component_area <= stats[small, cv2.CC_STAT_AREA] <= MEND_MAX_SHARE * stats[large, cv2.CC_STAT_AREA]
            and x1 - x0 <= MEND_MAX_WIDENING * stats[large, cv2.CC_STAT_WIDTH])


def print_survival(aligned: AlignedPage, template: Template, box: Box, tolerance_px: int = 2) -> float:
    """The share of the blank form's print inside ``box`` that the fax still shows (within a few px).

    Readers that subtract the print trust it to be there: where a fax dropout erased part of a
    printed word, or smeared it bold, the "added ink" around that word means little.
    """
    b = clamp(box, aligned.image.shape)
    printed = b.crop(template.reference) < 128
    if not printed.any():
        return 1.0
    dx, dy = local_offset(aligned, template, b)
    page_ink = (crop_padded(aligned.image, b.x0 + dx, b.y0 + dy, b.x1 + dx, b.y1 + dy) < INK_THRESHOLD).astype(np.uint8)
    k = 2 * tolerance_px + 1
    near_ink = cv2.dilate(page_ink, np.ones((k, k), np.uint8)) > 0
    return float((printed & near_ink).sum()) / float(printed.sum())


def remove_specks(mask: np.ndarray, min_px: int = MIN_COMPONENT_PX) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = np.zeros(n, dtype=bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_px
    return keep[labels].astype(np.uint8)


STREAK_MAX_WIDTH = 5  # lines (columns or rows) a streak may spread over within one box
# A streak runs straight down the scanner's page; once the page is aligned (its skew taken
# out) it runs at a slight slant, and a 1-px streak spreads over several columns of a box,
# each inked for only part of its height (a 96-px box, 4 columns: 14, 36, 28 and 23 rows),
# and hardly at all where it crosses print. A band of up to STREAK_MAX_WIDTH lines is a
# streak where, with the print, it covers the box end to end, its own ink is thin and stands
# alone (blank beside it in most rows), and that ink holds a good share of the box: a pen
# stroke is 3 px or more across, a streak 1-2 px.
STREAK_MAX_THICKNESS_PX = 3.0
STREAK_MIN_OWN_COVER = 0.3
STREAK_MIN_ALONE = 0.5  # share of the band's inked rows with no ink right beside the band


def _streak_bands(mask: np.ndarray, seen: np.ndarray, min_cover: float, lengths: MaskLengths) -> list[tuple[int, int]]:
    """Column bands [a, b) of ``mask`` that look like a streak running down the box, narrowest
    first; ``seen`` is the mask with the print (which hides a streak where it crosses it)."""
    h, w = mask.shape
    if np.count_nonzero(mask.any(axis=1)) < STREAK_MIN_OWN_COVER * h:
        return []  # no band can be inked in enough rows
    own = np.concatenate([np.zeros((h, 1), np.int32), np.cumsum(mask, axis=1, dtype=np.int32)], axis=1)
    widest = min(lengths.streak_max_width, w)  # every narrower band lies inside one of these, in fewer rows
    if not (((own[:, widest:] - own[:, :-widest]) > 0).sum(axis=0) >= STREAK_MIN_OWN_COVER * h).any():
        return []
    any_ = np.concatenate([np.zeros((h, 1), np.int32), np.cumsum(seen > 0, axis=1, dtype=np.int32)], axis=1)
    padded = np.pad(mask, ((0, 0), (1, 1)))
    bands, taken = [], np.zeros(w, bool)
    for k in range(1, widest + 1):
        ink = own[:, k:] - own[:, :-k]  # (h, w - k + 1): ink per row in each band of k columns
        rows = (ink > 0).sum(axis=0)
        starts = np.nonzero(rows >= STREAK_MIN_OWN_COVER * h)[0]  # most boxes have none: done
        if not len(starts):
            continue
        ink, rows = ink[:, starts], rows[starts]
        covered = ((any_[:, starts + k] - any_[:, starts]) > 0).mean(axis=0)
        thickness = ink.sum(axis=0) / rows
        # A band inside a wider stroke (a column of a 6's stem) is thin too: its neighbours
        # must be blank in most of its rows, as they are beside a streak.
        beside = (padded[:, starts] | padded[:, starts + k + 1]) > 0
        alone = ((ink > 0) & ~beside).sum(axis=0) >= STREAK_MIN_ALONE * rows
        ok = (covered >= min_cover) & (thickness <= lengths.streak_max_thickness) & alone
        for a in starts[ok]:
            if not taken[a : a + k].any():
                bands.append((int(a), int(a) + k))
                taken[a : a + k] = True
    return bands


def remove_streaks(mask: np.ndarray, printed: np.ndarray | None = None, min_cover: float = 0.85,
                   runs_on: Callable[[int, int, int], bool] | None = None, lengths: MaskLengths | None = None) -> np.ndarray:
    """Drop fax-scanner streaks: thin straight lines running right across the box, even if broken,
    and slivers of a ruled line.

    A pen stroke seldom covers a narrow band from edge to edge of a field box. Where the streak
    crosses printed words it was subtracted with the print, so ``printed`` pixels count as covered.
    A band may be up to STREAK_MAX_WIDTH lines wide, since an aligned page leaves a streak at a
    slant. A tall 1 in a cell can cover a band too, with the cell's top and bottom lines counting
    as covered: where ``runs_on(axis, start, end)`` can look at the page beyond the box, only a
    band whose ink runs on past the box, as a streak down the page does, is dropped. Only the
    streak's own thin runs of ink go; where a pen stroke touches or crosses it, the ink stays.
    """
    lengths = lengths or AT_TUNED_DPI
    return _remove_rule_slivers(_remove_straight_streaks(mask, printed, min_cover, runs_on, lengths), min_cover, lengths)


STREAK_LOOK_PAST_PX = 24  # how far beyond the box to look for the rest of a streak
STREAK_RUNS_ON_SHARE = 0.5  # of those rows (or columns) the streak's band must be inked in


def _runs_on_past(aligned: AlignedPage, template: Template, box: Box, dx: int, dy: int, axis: int, start: int, end: int) -> bool:
    """Whether the page just beyond ``box``, less its print, shows ink in the band [start, end) of
    columns (axis 0) or rows (axis 1), on at least one side: the rest of a streak."""
    mask = print_mask(template)
    gap, past = template.scaled(PRINT_DILATE_PX) + 1, template.scaled(STREAK_LOOK_PAST_PX)
    if axis == 0:
        x0, x1 = box.x0 + start - 1, box.x0 + end + 1
        sides = [Box(x0, box.y0 - gap - past, x1, box.y0 - gap), Box(x0, box.y1 + gap, x1, box.y1 + gap + past)]
    else:
        y0, y1 = box.y0 + start - 1, box.y0 + end + 1
        sides = [Box(box.x0 - gap - past, y0, box.x0 - gap, y1), Box(box.x1 + gap, y0, box.x1 + gap + past, y1)]
    for side in sides:
        ink = crop_padded(aligned.image, side.x0 + dx, side.y0 + dy, side.x1 + dx, side.y1 + dy) < INK_THRESHOLD
        ink &= ~crop_padded(mask, side.x0, side.y0, side.x1, side.y1, fill=False)
        if ink.any(axis=1 - axis).mean() >= STREAK_RUNS_ON_SHARE:
            return True
    return False


# What subtracting the dilated print leaves of a ruled line the page has drifted off by a pixel
# or two: a line a pixel or two thick, stepping sideways as it runs across the box. A pen stroke
# is 3 px or more. Left in, the CNN read the sliver beside a month's 1 as another 1 (11).
RULE_SLIVER_MAX_THICKNESS = 2.5


def _remove_rule_slivers(mask: np.ndarray, min_cover: float, lengths: MaskLengths) -> np.ndarray:
    """Drop pieces that run across ``min_cover`` of the box but are at most a sliver thick."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    h, w = mask.shape
    out = mask
    for i in range(1, n):
        _, _, bw, bh, area = (int(v) for v in stats[i, :5])
        span = bh if bh >= min_cover * h else bw if bw >= min_cover * w else 0
        if span and area <= lengths.rule_sliver_max_thickness * span:
            if out is mask:
                out = mask.copy()
            out[labels == i] = 0
    return out


def _remove_straight_streaks(mask: np.ndarray, printed: np.ndarray | None, min_cover: float,
                             runs_on: Callable[[int, int, int], bool] | None, lengths: MaskLengths) -> np.ndarray:
    """Drop each streak's ink, except where handwriting touches it: a streak running along
    the side of a 0 must not take the 0's stroke with it."""
    out = mask
    seen = mask if printed is None else (mask | printed.astype(np.uint8))
    for axis in (0, 1):
        m, v = (mask, seen) if axis == 0 else (mask.T, seen.T)
        for a, b in _streak_bands(m, v, min_cover, lengths):
            if runs_on is None or runs_on(axis, a, b):
                if out is mask:
                    out = mask.copy()
                _clear_thin_runs(out if axis == 0 else out.T, m, a, b, lengths.streak_max_thickness)
    return out


def _clear_thin_runs(out: np.ndarray, mask: np.ndarray, a: int, b: int, max_thickness: float) -> None:
    """In each row, clear the runs of ink that reach into columns [a - 1, b + 1) and are no
    wider than the streak usually is there (its median run, plus a pixel for a slant's step);
    a wider run is a pen stroke crossing or running along it, and stays."""
    w = mask.shape[1]
    runs = []  # (row, x0, x1)
    for y in np.nonzero(mask[:, max(0, a - 1) : b + 1].any(axis=1))[0]:
        row = mask[y] > 0
        x = max(0, a - 1)
        while x < min(w, b + 1):
            if not row[x]:
                x += 1
                continue
            x0, x1 = x, x
            while x0 > 0 and row[x0 - 1]:
                x0 -= 1
            while x1 < w and row[x1]:
                x1 += 1
            runs.append((y, x0, x1))
            x = x1
    if not runs:
        return
    limit = min(max_thickness, float(np.median([x1 - x0 for _, x0, x1 in runs])) + 1)
    for y, x0, x1 in runs:
        if x1 - x0 <= limit:
            out[y, x0:x1] = 0


@dataclass(frozen=True)
class Blob:
    """One connected piece of handwriting, in crop coordinates."""

    x0: int
    y0: int
    x1: int
    y1: int
    area: int

    @classmethod
    def joined(cls, pieces: list["Blob"]) -> "Blob":
        """The pieces as one blob: the box around them all, and their ink together."""
        span = Box.around(pieces)
        return cls(span.x0, span.y0, span.x1, span.y1, sum(b.area for b in pieces))

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2


def blobs(mask: np.ndarray) -> list[Blob]:
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for i in range(1, n):
        x, y, w, h, a = stats[i]
        out.append(Blob(int(x), int(y), int(x + w), int(y + h), int(a)))
    return sorted(out, key=lambda b: b.x0)


FRAGMENT_GAP_PX = 2  # pieces this close are one broken stroke (a faint pen, a fax dropout)
SUBSTANTIAL_PX = 40  # a piece this big is a stroke in its own right, never merged with another
MIN_PIECE_AREA = 6  # smaller pieces are fax speckle, never part of a digit
TALL_PIECE_AREA = 60  # a piece with this much ink is (part of) a digit, however short
MIN_SPLIT_WIDTH_PX = 8  # a narrower piece is never cut into two digits


def stroke_groups(mask: np.ndarray, lengths: MaskLengths | None = None) -> list[Blob]:
    """Like :func:`blobs`, but fragments of one broken stroke come back as one piece.

    A faint pen through a fax leaves a stroke as a dotted trail of specks, each too small to
    count; together they are a 1. Pieces within FRAGMENT_GAP_PX of each other are joined,
    unless that would join two substantial strokes (two digits written close together).
    """
    lengths = lengths or AT_TUNED_DPI
    n, own, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 2:
        return blobs(mask)
    k = 2 * (lengths.fragment_gap // 2) + 1
    _, near = cv2.connectedComponents(cv2.dilate(mask, np.ones((k, k), np.uint8)), connectivity=8)
    ink = mask > 0
    group_of = np.zeros(n, np.int32)
    group_of[own[ink]] = near[ink]  # every pixel of a piece lies in the same near-group
    by_group: dict[int, list[Blob]] = {}
    for i in range(1, n):
        x, y, w, h, a = (int(v) for v in stats[i])
        by_group.setdefault(int(group_of[i]), []).append(Blob(x, y, x + w, y + h, a))
    out: list[Blob] = []
    for group in by_group.values():
        if sum(b.area >= lengths.substantial_area for b in group) >= 2:
            out.extend(group)
        else:
            out.append(Blob.joined(group))
    return sorted(out, key=lambda b: b.x0)


@dataclass(frozen=True)
class MaskLengths:
    """The mask helpers' pixel lengths and areas at one working dpi. The constants above were
    measured at TUNED_DPI; ``of(template)`` scales each by ``Template.scaled`` / ``scaled_area``,
    and the default is TUNED_DPI itself (masks made at 200 dpi, as tests and training draw them)."""

    streak_max_width: int = STREAK_MAX_WIDTH
    streak_max_thickness: float = STREAK_MAX_THICKNESS_PX
    rule_sliver_max_thickness: float = RULE_SLIVER_MAX_THICKNESS
    pen_on_print_min_area: int = PEN_ON_PRINT_MIN_PX
    pen_on_print_widening: tuple[int, int] = PEN_ON_PRINT_WIDENING_PX
    ruled_line_band: int = RULED_LINE_BAND_PX
    mend_span: int = MEND_SPAN_PX
    mend_max_crossing: int = MEND_MAX_CROSSING_PX
    fragment_gap: int = FRAGMENT_GAP_PX
    substantial_area: int = SUBSTANTIAL_PX
    min_piece_area: int = MIN_PIECE_AREA
    min_component_area: int = MIN_COMPONENT_PX
    tall_piece_area: int = TALL_PIECE_AREA
    min_split_width: int = MIN_SPLIT_WIDTH_PX

    @classmethod
    def of(cls, template: Template) -> MaskLengths:
        key = (template.id, id(template))
        if key not in _MASK_LENGTHS:
            length, area = template.scaled, template.scaled_area
            _MASK_LENGTHS[key] = cls(
                length(STREAK_MAX_WIDTH), length(STREAK_MAX_THICKNESS_PX, whole=False),
                length(RULE_SLIVER_MAX_THICKNESS, whole=False), area(PEN_ON_PRINT_MIN_PX),
                (length(PEN_ON_PRINT_WIDENING_PX[0]), length(PEN_ON_PRINT_WIDENING_PX[1])), length(RULED_LINE_BAND_PX),
                length(MEND_SPAN_PX), length(MEND_MAX_CROSSING_PX), length(FRAGMENT_GAP_PX), area(SUBSTANTIAL_PX),
                area(MIN_PIECE_AREA), area(MIN_COMPONENT_PX), area(TALL_PIECE_AREA), length(MIN_SPLIT_WIDTH_PX))
        return _MASK_LENGTHS[key]


_MASK_LENGTHS: dict[tuple[str, int], MaskLengths] = {}
AT_TUNED_DPI = MaskLengths()


def glyph_image(mask: np.ndarray, x0: int, y0: int, x1: int, y1: int, margin: int = 2) -> np.ndarray:
    """A dark-ink-on-white crop of ``mask`` around one glyph, as readers' engines expect."""
    h, w = mask.shape
    sub = mask[max(0, y0 - margin) : min(h, y1 + margin), max(0, x0 - margin) : min(w, x1 + margin)]
    return np.where(sub > 0, 0, 255).astype(np.uint8)
