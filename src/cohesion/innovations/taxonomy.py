"""The Carrefour's facets (domaines, publics, types d'action) and the sources' vocabularies.

``taxonomy.yaml``, next to this module, declares the facets and, for each source, which
of its tags and categories mean which facets (the file's header explains its keys).
:meth:`Taxonomy.vocabulary` gives the :class:`Vocabulary` of a source;
:meth:`Vocabulary.apply` maps the tags of a batch of records at once: codes relabelled,
facets filled, the tags no term maps counted (they stay in the records' tags).

A source may come with its own category tree: GoGoCarto maps (Transiscope) publish it
as a JavaScript file, ``var taxonomy = {"@graph": [...]};``, a SKOS graph of concepts
with ``prefLabel`` and ``broader``. :meth:`ConceptTree.from_javascript` reads the
object as JSON data, never runs it. The vocabulary checks that its categories are
concepts of the tree (a renamed category is a clear error, not a silent loss) and maps
a concept it does not list through its nearest listed ancestor.

Examples
--------
>>> taxonomy = Taxonomy.load()
>>> sorted(taxonomy.facets)
['actions', 'domaines', 'publics']
>>> vocabulary = taxonomy.vocabulary("postes-politique-ville")
>>> mapped = vocabulary.apply(pd.Series([["adultes-relais"], ["fonjep", "inconnu"]]))
>>> mapped.actions.tolist(), mapped.unmapped
([['mediation'], ['animation']], Counter({'inconnu': 1}))
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cohesion.errors import CohesionError, InputFileError, NotFoundError
from cohesion.innovations.connectors.spec import YamlDocument, check_keys, load_yaml
from cohesion.innovations.records import fold

TAXONOMY_FILE = Path(__file__).with_name("taxonomy.yaml")
#: The facets of a record, in the order of :class:`~cohesion.innovations.records.Record`.
FACETS = ("domaines", "publics", "actions")
_VOCABULARY_KEYS = {"titre", "arbre", "codes", "categories", "mots_cles"}


class UnknownVocabularyError(NotFoundError):
    """A source that ``taxonomy.yaml`` does not describe."""


@dataclass(frozen=True)
class ConceptTree:
    """A source's category tree: concept label → its parent's label (None at the top).

    Examples
    --------
    >>> tree = ConceptTree.from_javascript('var taxonomy = {"@graph": ['
    ...     '{"@id": 5, "prefLabel": "domaines", "broader": ""}, '
    ...     '{"@id": 3, "prefLabel": "Culture", "broader": 5}]};', "taxonomy.js")
    >>> tree.ancestors("Culture")
    ['Culture', 'domaines']
    """

    parents: dict[str, str | None]

    @classmethod
    def from_javascript(cls, text: str, address: str) -> ConceptTree:
        """Read GoGoCarto's ``var taxonomy = {…};`` as data (the object is JSON).

        Raises
        ------
        InputFileError
            When the file holds no such object, or its concepts have no label.
        """
        start, end = text.find("{"), text.rfind("}")
        try:
            document = json.loads(text[start:end + 1]) if 0 <= start < end else None
        except json.JSONDecodeError as error:
            raise InputFileError(address, f"arbre de catégories illisible : {error.msg}",
                                 line=text.count("\n", 0, start + error.pos) + 1,
                                 expected="un objet JSON après « var taxonomy = »") from None
        if not isinstance(document, dict) or not isinstance(document.get("@graph"), list):
            raise InputFileError(address, "pas d'arbre de catégories dans ce fichier",
                                 expected='var taxonomy = {"@graph": [concepts…]};')
        return cls.from_concepts(document["@graph"], address)

    @classmethod
    def from_concepts(cls, concepts: list[Any], address: str) -> ConceptTree:
        """The tree of SKOS concepts (``@id``, ``prefLabel``, ``broader``)."""
        labels: dict[str, str] = {}
        for number, concept in enumerate(concepts, start=1):
            label = concept.get("prefLabel") if isinstance(concept, dict) else None
            if not isinstance(label, str) or not label.strip():
                raise InputFileError(address, f"le concept {number} de l'arbre n'a pas de "
                                     "prefLabel", expected="un libellé par concept")
            labels[str(concept.get("@id"))] = label.strip()
        return cls({label: labels.get(str(concept.get("broader")))
                    for concept, label in zip(concepts, labels.values(), strict=True)})

    def ancestors(self, label: str) -> list[str]:
        """``label`` and its ancestors, nearest first."""
        chain: list[str] = []
        current: str | None = label
        while current is not None and current not in chain:
            chain.append(current)
            current = self.parents.get(current)
        return chain


@dataclass(frozen=True)
class Meaning:
    """The facets a term means."""

    domaines: tuple[str, ...] = ()
    publics: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()


@dataclass
class Mapped:
    """The tags of a batch of records once mapped (one row per record).

    Attributes
    ----------
    tags : Series of list
        The tags, codes relabelled, each once.
    domaines, publics, actions : Series of list
        Facet ids, sorted.
    unmapped : Counter
        Tags no term maps, with the number of records having each.
    """

    tags: pd.Series
    domaines: pd.Series
    publics: pd.Series
    actions: pd.Series
    unmapped: Counter[str] = field(default_factory=Counter)


@dataclass
class Vocabulary:
    """How one source's tags map to the facets.

    Attributes
    ----------
    name : str
        The source (its entry in ``taxonomy.yaml``).
    codes : dict
        Code, exactly as the source writes it (``media_numerique``), → the label that
        replaces it in the tags; a free tag spelt otherwise (``Economie``) is kept.
    meanings : dict
        Folded term → :class:`Meaning`.
    """

    name: str
    codes: dict[str, str]
    meanings: dict[str, Meaning]

    def apply(self, tags: pd.Series) -> Mapped:
        """Map the tags of each record (a list, or None) to facets.

        Each distinct tag is relabelled and looked up once; the records then gather
        the answers of their tags.
        """
        lists = [v if isinstance(v, list) else [] for v in tags]
        label = {t: self.codes.get(t.strip(), t)
                 for t in {str(t) for v in lists for t in v if t is not None}}
        meaning = {text: self.meanings.get(fold(text)) for text in set(label.values())}
        relabelled = [list(dict.fromkeys(label[str(t)] for t in v if t is not None))
                      for v in lists]
        facets = {facet: pd.Series(
            [sorted({i for text in v if (m := meaning[text]) for i in getattr(m, facet)})
             for v in relabelled], index=tags.index, dtype=object) for facet in FACETS}
        unmapped = Counter(text for v in relabelled for text in v if meaning[text] is None)
        return Mapped(pd.Series(relabelled, index=tags.index, dtype=object),
                      facets["domaines"], facets["publics"], facets["actions"], unmapped)


class Taxonomy:
    """The facets and the vocabularies of ``taxonomy.yaml``.

    Attributes
    ----------
    facets : dict
        Facet (``domaines``…) → id → French label.
    """

    def __init__(self, document: YamlDocument) -> None:
        data = document.data
        check_keys(document, data, {"version", "facettes", "vocabulaires"})
        facets = data.get("facettes")
        if not isinstance(facets, dict) or set(facets) != set(FACETS):
            raise document.error(("facettes",), "les facettes doivent être exactement "
                                 + ", ".join(FACETS), expected=", ".join(FACETS),
                                 found=", ".join(facets) if isinstance(facets, dict) else facets)
        self.facets: dict[str, dict[str, str]] = {
            facet: {str(k): str(v) for k, v in (facets[facet] or {}).items()}
            for facet in FACETS}
        self._document = document
        vocabularies = data.get("vocabulaires") or {}
        self._vocabularies: dict[str, dict[str, Any]] = vocabularies
        for name, entry in vocabularies.items():
            self._check(name, entry)

    @classmethod
    def load(cls, path: Path | str = TAXONOMY_FILE) -> Taxonomy:
        """Read and check ``taxonomy.yaml`` (or another file of the same form)."""
        return cls(load_yaml(path, "la taxonomie"))

    def __contains__(self, name: object) -> bool:
        """Whether ``taxonomy.yaml`` has a vocabulary ``name``."""
        return name in self._vocabularies

    def label(self, facet: str, identifier: str) -> str:
        """The French label of a facet value."""
        return self.facets[facet][identifier]

    def needs_tree(self, name: str) -> bool:
        """Whether the vocabulary of ``name`` maps the concepts of a category tree."""
        return bool(self._entry(name).get("arbre", False))

    def vocabulary(self, name: str, tree: ConceptTree | None = None) -> Vocabulary:
        """The vocabulary of source ``name``, checked against its category ``tree``.

        Raises
        ------
        UnknownVocabularyError
            When ``taxonomy.yaml`` has no vocabulary ``name``.
        CohesionError
            When the vocabulary needs a tree and none is given, or a category or code
            names a concept that the tree does not have (the source renamed it).
        """
        entry = self._entry(name)
        if self.needs_tree(name) and tree is None:
            raise CohesionError(f"le vocabulaire {name} s'appuie sur l'arbre de catégories "
                                "de la source : le connecteur doit le lire (taxonomy.tree)")
        categories = {str(k): self._meaning(v) for k, v in (entry.get("categories") or {})
                      .items()}
        codes = {str(k): str(v) for k, v in (entry.get("codes") or {}).items()}
        meanings: dict[str, Meaning] = {}
        if tree is not None and self.needs_tree(name):
            known = {fold(label): label for label in tree.parents}
            missing = [label for label in [*categories, *codes.values()]
                       if fold(label) not in known]
            if missing:
                raise CohesionError(
                    f"le vocabulaire {name} nomme des catégories absentes de l'arbre de la "
                    f"source : {', '.join(sorted(set(missing)))} ; la source a changé sa "
                    "taxonomie : mettez taxonomy.yaml à jour")
            listed = {fold(label): meaning for label, meaning in categories.items()}
            for label in tree.parents:
                nearest = next((listed[fold(a)] for a in tree.ancestors(label)
                                if fold(a) in listed), None)
                if nearest is not None:
                    meanings[fold(label)] = nearest
        else:
            meanings.update({fold(label): meaning for label, meaning in categories.items()})
        for term, meaning in (entry.get("mots_cles") or {}).items():
            meanings.setdefault(fold(str(term)), self._meaning(meaning))
        return Vocabulary(name, codes, meanings)

    def _entry(self, name: str) -> dict[str, Any]:
        if name not in self._vocabularies:
            raise UnknownVocabularyError(
                f"aucun vocabulaire {name!r} dans taxonomy.yaml (vocabulaires : "
                f"{', '.join(sorted(self._vocabularies))})")
        return self._vocabularies[name]

    def _check(self, name: str, entry: Any) -> None:
        key = ("vocabulaires", name)
        if not isinstance(entry, dict):
            raise self._document.error(key, "un vocabulaire est un dictionnaire",
                                       expected="{titre, categories, mots_cles…}", found=entry)
        check_keys(self._document, entry, _VOCABULARY_KEYS, key)
        for part in ("categories", "mots_cles"):
            for term, meaning in (entry.get(part) or {}).items():
                where = (*key, part, term)
                if not isinstance(meaning, dict):
                    raise self._document.error(where, "un terme renvoie à des facettes",
                                               expected="{domaines: [...], actions: [...]}",
                                               found=meaning)
                check_keys(self._document, meaning, set(FACETS), where)
                for facet, ids in meaning.items():
                    unknown = [i for i in (ids or []) if i not in self.facets[facet]]
                    if not isinstance(ids, list) or unknown:
                        raise self._document.error(
                            (*where, facet), f"valeur de {facet} inconnue",
                            expected=", ".join(self.facets[facet]),
                            found=", ".join(map(str, unknown)) or ids)

    @staticmethod
    def _meaning(raw: dict[str, list[str]]) -> Meaning:
        return Meaning(*(tuple(raw.get(facet) or ()) for facet in FACETS))
