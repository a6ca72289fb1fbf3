"""Writer populations in the generator: one population per form, named in the truth, without
changing a byte of what the older writer choices make."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import samplegen
from samplegen import assets, make_fax
from samplegen import writers as populations
from samplegen.handwriting import Writer
from samplegen.samples import CASES, SEED

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SINGLE = ["mnist", "bundled-fonts", "kanjivg", "debian-fonts", "blocky"]
needs_debian_fonts = pytest.mark.skipif(bool(assets.missing_system_fonts()),
                                        reason="Debian handwriting fonts not installed (bash scripts/install.sh --test)")

# SHA-256 prefixes of make_fax(5, i, writers, layouts=["mixed"]) (file bytes, truth fields) as the generator
# made them before populations existed. The older choices must keep their random streams, so that figures
# measured on them stay comparable.
BEFORE_POPULATIONS = {
    ("train", 1): ("32c47e785dad03d3", "8402956fed81c281"),
    ("train", 2): ("47e666faeef03a94", "6545337282c52322"),
    ("test", 1): ("49952daa2e3a5602", "83d4ab05e6ac7118"),
    ("test", 2): ("5968fa5ab463b957", "1b9c25943da98222"),
    ("fonts", 1): ("100d0905eccb3c04", "dc4dadaada078417"),
    ("fonts", 2): ("768ba3b58bf778c7", "6ea02e3c526c74de"),
}


def _digests(data: bytes, row: dict) -> tuple[str, str]:
    fields = json.dumps(row["records"][0]["fields"], sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()[:16], hashlib.sha256(fields).hexdigest()[:16]


@pytest.mark.parametrize("writers,index", sorted(BEFORE_POPULATIONS))
def test_the_older_writer_choices_make_the_same_bytes(writers, index):
    if writers == "fonts" and assets.missing_system_fonts():
        pytest.skip("Debian handwriting fonts not installed")
    data, _, row = make_fax(5, index, writers, layouts=["mixed"])
    assert _digests(data, row) == BEFORE_POPULATIONS[(writers, index)]
    assert row["writers"] == populations.canonical(writers) == row["records"][0]["writers"]


def test_the_committed_samples_are_what_the_generator_still_draws():
    # The committed files are never regenerated here; their values, pages and formats must still be the
    # generator's for the sample seed, which they are only while the "test" stream is untouched.
    committed = [json.loads(line) for line in (SAMPLES / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in committed:
        index = int(row["file"][4:8])
        _, _, now = make_fax(SEED, index, "test", overrides=CASES[index])
        assert (now["format"], now["pages"], now["records"][0]["fields"]) == \
            (row["format"], row["pages"], row["records"][0]["fields"])


def test_fonts_is_debian_fonts_under_its_older_name():
    if assets.missing_system_fonts():
        pytest.skip("Debian handwriting fonts not installed")
    assert make_fax(9, 1, "fonts")[0] == make_fax(9, 1, "debian-fonts")[0]
    assert populations.stream("all") == populations.stream("populations")


@pytest.mark.parametrize("population", ["mnist", "bundled-fonts", "kanjivg", "blocky"])
def test_a_single_population_draws_every_digit_from_its_own_source(population):
    hands = [Writer.random(np.random.default_rng(s), population) for s in range(12)]
    digit_source, text_source = {"mnist": ("mnist", "kanjivg"), "bundled-fonts": ("font", "font"),
                                 "kanjivg": ("kanjivg", "kanjivg"), "blocky": ("blocky", "blocky")}[population]
    assert all(w.digit_sources == (digit_source,) and w.text_source == text_source for w in hands)
    if population == "mnist":
        assert all(w.mnist_range == assets.MNIST_TEST for w in hands)  # never the training writers
    if population == "bundled-fonts":
        assert {w.digit_font for w in hands} == set(assets.FONTS) and all(w.font == w.digit_font for w in hands)
    assert all((w.blocky_pen is not None) == (population == "blocky") for w in hands)


def test_blocky_digits_are_blocky_and_thick():
    from samplegen import blocky

    rng = np.random.default_rng(4)
    pen = blocky.Pen(rng)
    for d in range(10):
        g = blocky.digit(d, 60, pen, rng)
        assert g.shape[0] == 60
        # Scaled up as pixels: the mask holds only full ink or none (no antialiased edge)...
        assert set(np.unique(g)) <= {0.0, 1.0}
        # ...and its strokes are slabs: no run of ink across a row is thinner than a drawing pixel
        # scaled up, and a typical one is a thick marker's width (a ballpoint is 3-5 px).
        runs = [len(r) for row in g for r in "".join("x" if v else " " for v in row).split()]
        assert min(runs) >= 2 and np.median(runs) >= 7, (d, min(runs), np.median(runs))


def test_populations_draw_each_form_from_one_population_covering_them_all():
    drawn = Counter(populations.population_of("populations", 21, i) for i in range(1, 201))
    expected = set(populations.mixed())
    assert set(SINGLE) <= expected and set(drawn) == expected
    # The handwriting populations share nine forms in ten (18% each); typed forms are one in ten.
    assert min(n for p, n in drawn.items() if p != "typed") >= 20 and 8 <= drawn["typed"] <= 35
    assert "train" not in expected and "test" not in expected  # the mix is of single held-out populations
    # The draw has its own stream: a form's population is the same however many forms are made.
    assert [populations.population_of("all", 21, i) for i in (1, 2, 3)] == \
        [populations.population_of("populations", 21, i) for i in (1, 2, 3)]


def test_a_population_cannot_take_another_ones_stream():
    with pytest.raises(ValueError, match="already belongs to 'test'"):
        populations.register(populations.Population("copycat", 1, "", frozenset()))
    assert "copycat" not in populations.POPULATIONS
    with pytest.raises(ValueError, match="writers must be one of"):
        samplegen.generate("/nonexistent/never-written", 1, 1, writers="valid")


@needs_debian_fonts
def test_population_forms_name_their_writers_and_are_readable(tmp_path):
    """One fax per population, read by the product: the form is found and most digit fields are right."""
    from intake.pipeline import Pipeline

    pipeline = Pipeline()
    rows = samplegen.generate(tmp_path, 8, 11, writers="populations", formats=["tiff-g4"])
    seen = {}
    for row in rows:
        assert row["writers"] == row["records"][0]["writers"] == populations.population_of("populations", 11, int(row["file"][4:8]))
        seen.setdefault(row["writers"], row)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["writers"] == "populations" and set(manifest["populations"]) == set(populations.mixed())
    for population in SINGLE:
        row = seen.get(population)
        if row is None:  # not drawn among the eight: make one of its own
            folder = tmp_path / population
            row = samplegen.generate(folder, 1, 11, writers=population, formats=["tiff-g4"])[0]
            path = folder / row["file"]
        else:
            path = tmp_path / row["file"]
        assert row["writers"] == population
        result = pipeline.process_file(path, received=dt.date.fromisoformat(row["received"]))
        (record,) = result.records
        truth = row["records"][0]["fields"]
        read = record.to_json()["fields"]
        digit_keys = [k for k, v in truth.items() if isinstance(v, str) and v[:1].isdigit()]
        right = sum(read[k]["value"] == truth[k] for k in digit_keys)
        assert len(digit_keys) >= 5 and right >= 0.6 * len(digit_keys), (population, right, len(digit_keys))
