"""Briefings: anonymized statistics from coded cases, with disclosure
control, in CSV and bilingual HTML/PDF (docs/briefings.md).

Services: :mod:`.records` (coded records, import/export, merge),
:mod:`.build` (select, generalize, count), :mod:`.sdc` (suppression and the
intruder audit), :mod:`.render` (outputs). Blueprint: :mod:`.views`.
"""
