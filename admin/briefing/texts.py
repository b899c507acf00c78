"""The fixed words of a briefing note in English and French: the title,
section headings, notes and findings' sentences (:data:`TEXT`), month
names, and the draft marks. Kept apart from the rendering
(:mod:`admin.briefing.render`) so a translator reads them in one place.
"""

from __future__ import annotations

LANGS = ("en", "fr")
SUPPRESSED = "x"
#: On every page and in every CSV of a draft (never recorded as a release).
DRAFT_MARK = "DRAFT — NOT FOR RELEASE"
#: The French reports carry it in both languages.
DRAFT_MARK_FR = "DRAFT — NOT FOR RELEASE · ÉBAUCHE — NE PAS DIFFUSER"

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Transnational repression reported to the coalition",
        "subtitle": "Briefing note · {period}",
        "classification": "Anonymized statistics · minimum cell {k}",
        "summary_h": "Summary",
        "summary": (
            "From {start} to {end}, coalition organizations coded {total} cases of suspected "
            "transnational repression {scope} whose reporters agreed to anonymized statistics. "
            "A case is one incident: several reports about it count once. All figures count cases."
        ),
        "people": "Follow-ups tie these cases to at least {people} distinct people.",
        "findings_h": "Key findings",
        "tables_h": "Tables",
        "t_family_quarter": "Cases by tactic family and quarter of the incident",
        "t_tactic": "Cases by tactic",
        "t_community_family": "Cases by community and tactic family",
        "t_province_quarter": "Cases by province and quarter of the incident",
        "t_attribution_quarter": "Cases by attribution and quarter of the incident",
        "t_delay_quarter": "Incident date and report date: delay by quarter of the incident",
        "unit": "Unit: cases.",
        "multi_rows": "A case can fall in several rows, so rows add up to more than the total.",
        "multi_cols": "A case can fall in several columns, so columns add up to more than the total.",
        "total": "Total",
        "chart_quarter": "Cases by quarter of the incident",
        "chart_family": "Cases by tactic family",
        "method_h": "Method and suppression",
        "method": (
            "What is counted: cases (one incident counts once, however many reports it has), by the "
            "month of the incident, from reviewers' coding of reports whose authors consented to "
            "statistics; never from report text; spam and duplicates excluded. Dates are grouped "
            "into quarters, places into provinces ({pooled_prov}), tactics into the four families "
            "of Freedom House in cross-tables, and communities with fewer than {k} cases are pooled. "
            "Minimum cell k = {k}: counts from 1 to {km1} are suppressed (x), with complementary "
            "suppression so that no suppressed cell can be recovered from the totals of any table "
            "of this note; an intruder audit (integer programming) confirmed that each suppressed "
            "cell stays within a range of at least {p_plus} values. Zeros are shown. {ledger} "
            "Method: Hundepool et al., Statistical Disclosure Control (Wiley, 2012)."
        ),
        "ledger": (
            "Overlapping releases: before issue, every number was compared with every earlier "
            "briefing in the coalition's release ledger ({releases}), so that no difference between "
            "two briefings gives a count from 1 to {km1}; cells suppressed for that reason: {linked}."
        ),
        "no_ledger": "This note was not compared with the release ledger of earlier briefings.",
        "caveat_h": "Under-reporting",
        "caveat": (
            "These are cases reported to coalition organizations, not the extent of transnational "
            "repression in Canada. Many targets do not report out of fear for family abroad, "
            "distrust, or not knowing where to turn. Changes between quarters may reflect outreach "
            "as much as activity."
        ),
        "vignettes_h": "Accounts released with consent",
        "no_vignettes": "No account has been released for this note.",
        "quarter": "Q{q} {y}",
        "none_pooled": "none pooled",
    },
    "fr": {
        "title": "Répression transnationale signalée à la coalition",
        "subtitle": "Note d'information · {period}",
        "classification": "Statistiques anonymisées · cellule minimale {k}",
        "summary_h": "Résumé",
        "summary": (
            "De {start} à {end}, les organisations de la coalition ont codé {total} cas présumés de "
            "répression transnationale {scope} dont les auteurs ont consenti aux statistiques "
            "anonymisées. Un cas est un incident : plusieurs signalements à son sujet comptent une "
            "fois. Tous les chiffres comptent des cas."
        ),
        "people": "Les suivis rattachent ces cas à au moins {people} personnes distinctes.",
        "findings_h": "Principales constatations",
        "tables_h": "Tableaux",
        "t_family_quarter": "Cas par famille de tactiques et trimestre de l'incident",
        "t_tactic": "Cas par tactique",
        "t_community_family": "Cas par communauté et famille de tactiques",
        "t_province_quarter": "Cas par province et trimestre de l'incident",
        "t_attribution_quarter": "Cas par attribution et trimestre de l'incident",
        "t_delay_quarter": "Date de l'incident et date du signalement : délai par trimestre de l'incident",
        "unit": "Unité : cas.",
        "multi_rows": "Un cas peut figurer dans plusieurs lignes : la somme des lignes dépasse le total.",
        "multi_cols": "Un cas peut figurer dans plusieurs colonnes : la somme des colonnes dépasse le total.",
        "total": "Total",
        "chart_quarter": "Cas par trimestre de l'incident",
        "chart_family": "Cas par famille de tactiques",
        "method_h": "Méthode et suppression",
        "method": (
            "Ce qui est compté : des cas (un incident compte une fois, quel que soit le nombre de "
            "signalements), selon le mois de l'incident, à partir du codage par les réviseurs des "
            "signalements dont les auteurs ont consenti aux statistiques; jamais à partir du texte "
            "des signalements; pourriels et doublons exclus. Les dates sont regroupées par "
            "trimestre, les lieux par province ({pooled_prov}), les tactiques selon les quatre "
            "familles de Freedom House dans les tableaux croisés, et les communautés de moins de "
            "{k} cas sont regroupées. Cellule minimale k = {k} : les nombres de 1 à {km1} sont "
            "supprimés (x), avec suppression complémentaire pour qu'aucune cellule supprimée ne "
            "puisse être déduite des totaux d'un tableau de cette note; un audit d'intrusion "
            "(programmation en nombres entiers) a confirmé que chaque cellule supprimée reste dans "
            "un intervalle d'au moins {p_plus} valeurs. Les zéros sont affichés. {ledger} "
            "Méthode : Hundepool et al., Statistical Disclosure Control (Wiley, 2012)."
        ),
        "ledger": (
            "Diffusions qui se recoupent : avant publication, chaque nombre a été comparé à chaque "
            "note antérieure du registre des diffusions de la coalition ({releases}), pour "
            "qu'aucune différence entre deux notes ne donne un nombre de 1 à {km1}; cellules "
            "supprimées pour cette raison : {linked}."
        ),
        "no_ledger": "Cette note n'a pas été comparée au registre des diffusions des notes antérieures.",
        "caveat_h": "Sous-déclaration",
        "caveat": (
            "Il s'agit des cas signalés aux organisations de la coalition, et non de l'ampleur de la "
            "répression transnationale au Canada. Beaucoup de personnes visées ne signalent rien, par "
            "crainte pour leur famille à l'étranger, par méfiance ou faute de savoir à qui s'adresser. "
            "Les variations d'un trimestre à l'autre peuvent refléter la sensibilisation autant que "
            "l'activité."
        ),
        "vignettes_h": "Témoignages diffusés avec consentement",
        "no_vignettes": "Aucun témoignage n'a été diffusé pour cette note.",
        "quarter": "T{q} {y}",
        "none_pooled": "aucune regroupée",
    },
}

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"],
}  # fmt: skip
