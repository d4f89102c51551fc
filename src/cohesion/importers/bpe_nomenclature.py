"""The BPE nomenclature: equipment type codes, their domains and labels.

The data is ``bpe_types.yaml`` beside this module (INSEE, Licence Ouverte / Etalab 2.0;
its header states the edition), read once by :func:`bpe_nomenclature`.
:func:`equipment_type_of` tells which type a column of a BPE commune table counts, from
its code (``A101``, ``NB_A101``) or its French label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

import yaml

from cohesion.territory.names import search_key

NOMENCLATURE_FILE = Path(__file__).with_name("bpe_types.yaml")

#: A BPE equipment type code; anything else (OSM tags mixed into some extracts) is not.
TYPE_CODE = re.compile(r"^[A-G][0-9]{3}$")

_CODE_COLUMN = re.compile(r"^(?:NB_)?(?P<code>[A-G][0-9]{3})$", re.IGNORECASE)


@dataclass(frozen=True)
class BpeNomenclature:
    """The tables of ``bpe_types.yaml``.

    Attributes
    ----------
    domains : dict of str to str
        The seven BPE domains, keyed by the first letter of a type code.
    types : dict of str to str
        Type code → French label, as INSEE names the types in its commune tables.
    label_aliases : dict of str to str
        Other labels INSEE gave the same types in its 2009 and 2013 pivot tables → code.
    uncoded_labels : dict of str to str
        Labels of the 2009 table whose type code changed or split afterwards → domain
        letter: they count in their domain and in the total, but get no per-type
        variable rather than a guessed one.
    """

    domains: dict[str, str]
    types: dict[str, str]
    label_aliases: dict[str, str]
    uncoded_labels: dict[str, str]

    @cached_property
    def codes_by_label(self) -> dict[str, str]:
        """Type code of each label and alias, keyed by :func:`search_key`."""
        index = {search_key(label): code for code, label in self.types.items()}
        index.update({search_key(label): code for label, code in self.label_aliases.items()})
        return index

    @cached_property
    def domains_by_uncoded_label(self) -> dict[str, str]:
        """Domain of each uncoded label, keyed by :func:`search_key`."""
        return {search_key(label): domain for label, domain in self.uncoded_labels.items()}


@cache
def bpe_nomenclature() -> BpeNomenclature:
    """The BPE nomenclature shipped with Cohésion (``bpe_types.yaml``), read once.

    Examples
    --------
    >>> bpe_nomenclature().types["D201"]
    'Médecin omnipraticien'
    >>> bpe_nomenclature().domains["D"]
    'Santé et action sociale'
    """
    data = yaml.safe_load(NOMENCLATURE_FILE.read_text(encoding="utf-8"))
    return BpeNomenclature(**{key: {str(k): str(v) for k, v in data[key].items()}
                              for key in ("domains", "types", "label_aliases",
                                          "uncoded_labels")})


def equipment_type_of(column: str) -> tuple[str | None, str] | None:
    """Return (type code or None, domain) for a column of a BPE commune table.

    A column named by a type code (``A101``, ``NB_A101``) or by a label of the INSEE
    nomenclature is an equipment column; ``None`` means the column is something else.

    Examples
    --------
    >>> equipment_type_of("NB_D201")
    ('D201', 'D')
    >>> equipment_type_of("Médecin omnipraticien")
    ('D201', 'D')
    >>> equipment_type_of("Trésorerie")
    (None, 'A')
    >>> equipment_type_of("LIBCOM") is None
    True
    """
    if match := _CODE_COLUMN.match(column.strip()):
        code = match["code"].upper()
        return code, code[0]
    nomenclature = bpe_nomenclature()
    key = search_key(column)
    if key in nomenclature.codes_by_label:
        code = nomenclature.codes_by_label[key]
        return code, code[0]
    if key in nomenclature.domains_by_uncoded_label:
        return None, nomenclature.domains_by_uncoded_label[key]
    return None
