"""docs/configuration.md against the schema: its key tables are what the schema generates today,
and every shipped config file is named in it."""

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, PositiveInt

from metamath.config.reference import MARKER, render_reference, type_name
from metamath.config.schema import MetaMathConfig, Section

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"


def test_the_docs_key_tables_are_the_schema_s():
    generated = DOC.read_text().split(MARKER, 1)
    assert len(generated) == 2, f"{DOC}: the marker is gone"
    assert MARKER + generated[1] == render_reference(), \
        "docs/configuration.md is stale: python -m metamath.config.reference --write docs/configuration.md"


def test_every_section_and_key_has_a_row():
    text = render_reference()
    for name, field in MetaMathConfig.model_fields.items():
        if field.exclude:
            continue
        assert f"## `{name}`" in text
    for key in ("max_cost_usd", "masking", "numbers_in_compounds", "round_samples", "load_in_4bit", "data_paths"):
        assert f"| `{key}` |" in text


def test_every_shipped_config_is_named():
    assert [p.name for p in sorted((ROOT / "configs").glob("*.yaml")) if f"configs/{p.name}" not in DOC.read_text()] == []


def test_types_read_as_yaml_does():
    class Probe(Section):
        a: Optional[PositiveInt] = None
        b: Literal["x", "y"] = "x"
        c: float = Field(0.5, gt=0.0, le=1.0)

    fields = Probe.model_fields
    assert type_name(fields["a"].annotation, fields["a"].metadata) == "int > 0 or null"
    assert type_name(fields["b"].annotation) == '"x" \\| "y"'
    assert type_name(fields["c"].annotation, fields["c"].metadata) == "float > 0.0 <= 1.0"
