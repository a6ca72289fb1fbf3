"""The template file: validated strictly, complete for the contract, geometry measured from the PDF."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import CONTRACT_KEYS, FORM_PDF
from intake.errors import TemplateError
from intake.template import load_template, load_templates


def test_template_covers_exactly_the_contract_keys(template):
    assert [f.key for f in template.fields] == CONTRACT_KEYS


def test_unknown_keys_are_rejected(tmp_path, template):
    folder = tmp_path / "broken"
    shutil.copytree(template.folder, folder)
    data = json.loads((folder / "template.json").read_text(encoding="utf-8"))
    data["fields"][0]["colour"] = "red"
    (folder / "template.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(TemplateError, match="colour"):
        load_template(folder)


def test_a_comb_field_must_have_as_many_cells_as_digits(tmp_path, template):
    folder = tmp_path / "broken"
    shutil.copytree(template.folder, folder)
    data = json.loads((folder / "template.json").read_text(encoding="utf-8"))
    comb = next(f for f in data["fields"] if f["kind"] == "comb_digits")
    comb["groups"] = [3]
    (folder / "template.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(TemplateError, match="do not add up"):
        load_template(folder)


def test_a_second_form_is_just_another_folder(tmp_path, template):
    for name in ("a", "b"):
        folder = tmp_path / name
        shutil.copytree(template.folder, folder)
        data = json.loads((folder / "template.json").read_text(encoding="utf-8"))
        data["id"] = f"form_{name}"
        (folder / "template.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert [t.id for t in load_templates(tmp_path)] == ["form_a", "form_b"]


def test_template_is_rebuilt_identically_from_the_pdf(tmp_path, template):
    pytest.importorskip("pdfplumber")
    if not FORM_PDF.exists():
        pytest.skip("official PDF not present")
    import subprocess
    import sys

    from conftest import REPO

    subprocess.run([sys.executable, str(REPO / "tools" / "build_template.py"), str(FORM_PDF), "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=120)
    rebuilt = json.loads((tmp_path / "template.json").read_text(encoding="utf-8"))
    committed = json.loads((template.folder / "template.json").read_text(encoding="utf-8"))
    assert rebuilt == committed
