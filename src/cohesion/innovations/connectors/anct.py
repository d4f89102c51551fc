"""The two ANCT sources that need code: dotations d'investissement and politique de la ville posts.

Both files are already read by the funding importers (:mod:`cohesion.importers.funding`);
these connectors reuse their reading and validation, then shape the entries that their
YAML files (``sources/dotations-2019.yaml``, ``sources/postes-politique-ville.yaml``)
map to records, as any connector does.

- :class:`DotationsConnector`: one entry per funded project of the DGCL table (24,811 in
  2019). The dotation (DETR, DSIL, DSID) and the échelon are checked as the importer
  checks them; the thematic category is brought back to the dictionary's label
  (:func:`~cohesion.policies.funding.normalise_themes`); the beneficiary's territory
  becomes ``COM:…``, ``EPCI:…`` or ``DEP:…``, and its commune code when it is a
  commune; the amounts are told in a sentence.
- :class:`PostesConnector`: one entry per **structure**, the association employing the
  posts: ANCT's yearly lists of adultes-relais and FONJEP posts are read as the importer
  reads them (each post counted once a year, :func:`~cohesion.policies.funding.resolve_posts`),
  then grouped by employer SIRET. FONJEP lists give the employer's name, never its
  SIRET: their posts join the adultes-relais employer of the same name in the same
  département when there is exactly one, and otherwise make a structure of their own,
  keyed by name and département.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from cohesion.errors import InputFileError
from cohesion.importers.base import ImportOptions
from cohesion.importers.funding import (
    COLLECTIVITES_SANS_DEPARTEMENT,
    DotationsInvestissement,
    PostesPolitiqueVille,
    read_json_records,
)
from cohesion.importers.reading import parse_numbers
from cohesion.innovations.connectors.base import Connector
from cohesion.innovations.connectors.readers import Entries, located, table_entries
from cohesion.innovations.fetching import Fetcher, Progress
from cohesion.innovations.records import fold, stable_id
from cohesion.policies.funding import (
    counted,
    dispositif_from_name,
    format_euros,
    normalise_themes,
    resolve_posts,
    siret_and_siren,
)

#: Level of the beneficiary's territory, by échelon (as the importer names them).
_TERRITORY_LEVELS = {"commune": "COM", "epci": "EPCI", "departement": "DEP"}
#: Short names of the dispositifs of posts, for the records' programme.
_SHORT_NAMES = {"adultes-relais": "Adultes-relais", "fonjep": "FONJEP"}
#: A post of each dispositif, in words: singular, plural.
_POSTS = {"adultes-relais": ("poste d'adulte-relais", "postes d'adultes-relais"),
          "fonjep": ("poste FONJEP", "postes FONJEP")}


class DotationsConnector(Connector):
    """Projects funded by the dotations d'investissement (DGCL table processed by ANCT).

    Columns added to the table's for the mapping: ``dotation`` (``DETR``…), ``theme``
    (the dictionary's label), ``commune`` (``id_terr`` of a commune), ``departement``
    (``id_dep``, none for the Collectivité de Corse), ``territoire`` (``COM:01004``,
    ``EPCI:200029999``, ``DEP:01``), ``intitule`` (a title for a project without
    description) and ``financement`` (the grant and the cost in one sentence).
    """

    def entries(self, root: str | Path, fetcher: Fetcher, fetched: list[str],
                progress: Progress | None = None) -> Entries:
        importer = DotationsInvestissement()
        parts = []
        for done, location in enumerate(self.spec.locations, start=1):
            document = self.fetch(root, location, fetcher, fetched)
            with located(document):
                table = importer.read_table(document.path, ImportOptions())
                year = importer.year_of(document.path, table, ImportOptions())
                kinds = importer.dispositifs_of(table)
                echelons = importer.echelons_of(table)
                amounts, _ = parse_numbers(table, ["montant_sub", "cout_total"])
            entries = table_entries(table.frame, document.address, table.line_of, table.sheet)
            frame = entries.frame
            dotation = kinds.str.upper()
            territory = frame["id_terr"].fillna("").str.strip()
            departement = frame["id_dep"].fillna("").str.strip()
            frame["dotation"] = dotation
            frame["theme"] = normalise_themes(frame["categorie"])[0]
            frame["commune"] = territory.where(echelons == "commune", None)
            frame["departement"] = departement.where(
                ~departement.isin(set(COLLECTIVITES_SANS_DEPARTEMENT)), None)
            frame["territoire"] = [[f"{_TERRITORY_LEVELS[e]}:{code}"] if code else []
                                   for e, code in zip(echelons, territory, strict=True)]
            frame["intitule"] = dotation + f" {year} : " + frame["nom_terr"].fillna("")
            cost = amounts["cout_total"].map(
                lambda v: f" pour un coût total de {format_euros(v)}" if v > 0 else "")
            frame["financement"] = ("Subvention " + dotation + f" {year} de "
                                    + amounts["montant_sub"].map(format_euros) + cost
                                    + " à " + frame["nom_terr"].fillna("") + ".")
            parts.append(entries)
            if progress is not None:
                progress("lecture", done, len(self.spec.locations))
        return Entries.concat(parts)


class PostesConnector(Connector):
    """Structures employing adultes-relais and FONJEP posts (ANCT, 2020-2025).

    Each location is a yearly list, its dispositif told by its file name
    (``adulte-relais-2024.json``, ``postes-fonjep-2025.json``). Columns of an entry:
    ``cle`` (the SIRET, or ``titre:…`` for a FONJEP structure known by its name),
    ``siret``, ``nom`` (the name of the latest year), ``programme``, ``dispositifs``,
    ``departement``, ``territoires`` (``CV:…`` per contrat de ville, ``DEP:…``),
    ``resume`` and ``detail`` (years, posts and amounts in words).
    """

    def entries(self, root: str | Path, fetcher: Fetcher, fetched: list[str],
                progress: Progress | None = None) -> Entries:
        posts, notes = [], []
        for done, location in enumerate(self.spec.locations, start=1):
            document = self.fetch(root, location, fetcher, fetched)
            name = Path(urlsplit(document.address).path).name
            found = dispositif_from_name(name)
            if found is None:
                raise InputFileError(document.address, "dispositif inconnu d'après le nom du "
                                     "fichier", expected="adulte-relais ou fonjep dans le nom",
                                     found=name)
            with located(document):
                records, lines = read_json_records(document.path)
                rows, row_notes = PostesPolitiqueVille().rows(document.path, records, lines)
            rows = rows.drop(columns=["record", "text_line"])
            # the money of each post and year counted once, as the importer counts it
            resolution = resolve_posts(rows, id_column="id_poste", year_column="year",
                                       amount_column="amount")
            notes += [f"{name} : {note}" for note in [*row_notes, *resolution.notes()]]
            counted_amounts = resolution.lines[["year", "id_poste", "amount"]].rename(
                columns={"amount": "counted"})
            # but every employer a post is listed under employs it
            posts.append(rows.drop_duplicates().merge(counted_amounts, on=["year", "id_poste"])
                         .assign(dispositif=found.id, address=document.address))
            if progress is not None:
                progress("lecture", done, len(self.spec.locations))
        return self._structures(pd.concat(posts, ignore_index=True), notes)

    def _structures(self, posts: pd.DataFrame, notes: list[str]) -> Entries:
        """One entry per employer, from the distinct rows of the posts.

        A post listed under several employers (the same year) is a post of each; its
        amount is the one counted once for the year (``counted``).
        """
        posts["siret"] = siret_and_siren(posts["code_tiers"])[0]
        posts["nom"] = posts["beneficiary"].fillna("").str.strip()
        posts["lieu"] = posts["nom"].map(fold) + "|" + posts["departement"].fillna("")
        # a FONJEP post joins the only SIRET employing adultes-relais under its name there
        sirets = posts.dropna(subset=["siret"]).groupby("lieu")["siret"].unique()
        only = sirets[sirets.map(len) == 1].map(lambda s: s[0])
        joined = posts["siret"].isna() & posts["lieu"].isin(only.index)
        posts.loc[joined, "siret"] = posts.loc[joined, "lieu"].map(only)
        if joined.any():
            notes.append(counted(int(joined.sum()), "ligne de poste FONJEP rattachée",
                                 "lignes de postes FONJEP rattachées") + " au SIRET de "
                         "l'employeur d'adultes-relais de même nom dans le même département ("
                         + counted(posts.loc[joined, "siret"].nunique(), "structure",
                                   "structures") + ")")
        posts["structure"] = posts["siret"].where(posts["siret"].notna(), "nom:" + posts["lieu"])
        posts = posts.sort_values(["structure", "year", "dispositif", "id_poste"], kind="stable")
        groups = posts.groupby("structure", sort=False)
        latest = groups.tail(1).set_index("structure")
        held = posts.drop_duplicates(["structure", "year", "dispositif", "id_poste"])
        per_year = held.groupby(["structure", "year", "dispositif"], sort=False).agg(
            postes=("id_poste", "size"), montant=("counted", "sum")).reset_index()
        frame = pd.DataFrame({
            "siret": latest["siret"], "nom": latest["nom"].where(latest["nom"] != "", None),
            "departement": latest["departement"],
            "dispositifs": groups["dispositif"].agg(lambda v: sorted(set(v))),
            "annees": groups["year"].agg(lambda v: sorted(set(v))),
            "contrats": groups["contrat_ville"].agg(lambda v: sorted(set(v.dropna()))),
            "adresse": latest["address"], "poste": latest["id_poste"],
        })
        frame["cle"] = [siret if isinstance(siret, str) else
                        stable_id(self.name, None, title=nom or poste,
                                  commune=dep).split(":", 1)[1]
                        for siret, nom, poste, dep in zip(frame["siret"], frame["nom"],
                                                          frame["poste"], frame["departement"],
                                                          strict=True)]
        frame["programme"] = frame["dispositifs"].map(
            lambda ids: " et ".join(_SHORT_NAMES[i] for i in ids))
        frame["territoires"] = [[f"CV:{c}" for c in contrats] + ([f"DEP:{d}"] if d else [])
                                for contrats, d in zip(frame["contrats"], frame["departement"],
                                                       strict=True)]
        frame["detail"] = _years_in_words(per_year).reindex(frame.index) + frame["contrats"].map(
            lambda c: f"\n\nContrats de ville : {', '.join(c)}." if c else "")
        frame["resume"] = [_summary(d, a) for d, a in zip(frame["dispositifs"], frame["annees"],
                                                          strict=True)]
        raw_posts = posts[["structure", "id_poste", "year", "dispositif", "amount",
                           "contrat_ville", "departement", "nom"]].rename(columns={
                               "year": "annee", "amount": "montant", "contrat_ville": "code_cv",
                               "departement": "insee_dep", "nom": "raison_sociale"})
        raw: dict[str, list[dict[str, object]]] = {}
        for post in raw_posts.astype(object).where(raw_posts.notna(), None).to_dict("records"):
            raw.setdefault(str(post.pop("structure")), []).append(post)
        frame = frame.reset_index()
        return Entries(
            frame.drop(columns=["structure"]),
            [f"{a}, poste {p}" for a, p in zip(frame["adresse"], frame["poste"], strict=True)],
            frame["adresse"].tolist(),
            [{"siret": s if isinstance(s, str) else None, "postes": raw[k]}
             for k, s in zip(frame["structure"], frame["siret"], strict=True)], notes)


def _summary(dispositifs: list[str], years: list[int]) -> str:
    """What a structure does, in one sentence.

    Examples
    --------
    >>> print(_summary(["adultes-relais", "fonjep"], [2020, 2021, 2025]))
    Structure employant des adultes-relais et des postes FONJEP financés par l'État au
    titre de la politique de la ville (2020-2025).
    """
    kinds = " et ".join({"adultes-relais": "des adultes-relais",
                         "fonjep": "des postes FONJEP"}[d] for d in dispositifs)
    period = str(years[0]) if years[0] == years[-1] else f"{years[0]}-{years[-1]}"
    return (f"Structure employant {kinds} financés par l'État au titre de la politique de la "
            f"ville ({period}).")


def _years_in_words(per_year: pd.DataFrame) -> pd.Series:
    """By structure, one line per year: the posts and amounts of each dispositif.

    Examples
    --------
    >>> rows = pd.DataFrame({"structure": ["A", "A", "A"], "year": [2024, 2025, 2025],
    ...                      "dispositif": ["adultes-relais", "adultes-relais", "fonjep"],
    ...                      "postes": [2, 1, 1], "montant": [45621.22, 22810.61, 7164.0]})
    >>> print(_years_in_words(rows)["A"])
    2024 : 2 postes d'adultes-relais (45 621,22 €)
    2025 : 1 poste d'adulte-relais (22 810,61 €) ; 1 poste FONJEP (7 164,00 €)
    """
    words = [counted(n, *_POSTS[d]) + f" ({format_euros(m)})"
             for n, d, m in zip(per_year["postes"], per_year["dispositif"], per_year["montant"],
                                strict=True)]
    parts = per_year.assign(words=words).sort_values(["structure", "year"], kind="stable")
    years = parts.groupby(["structure", "year"], sort=False)["words"].agg(" ; ".join)
    lines = years.index.get_level_values("year").astype(str) + " : " + years.to_numpy()
    return pd.Series(lines, index=years.index.get_level_values("structure")).groupby(
        level=0, sort=False).agg("\n".join)
