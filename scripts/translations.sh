#!/usr/bin/env bash
# Translation catalogs of the reporter's pages.
#   scripts/translations.sh update   re-extract strings, merge into every locale
#   scripts/translations.sh compile  build the .mo files (committed)
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-pybabel}"
dir=intake/translations
case "${1:-}" in
  update)
    "$PYBABEL" extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 --no-location --sort-output \
      --project tnr-intake -o "$dir/messages.pot" .
    "$PYBABEL" update -i "$dir/messages.pot" -d "$dir" --no-fuzzy-matching --ignore-obsolete --width 100
    ;;
  compile)
    "$PYBABEL" compile -d "$dir" --statistics
    ;;
  *) echo "usage: $0 update|compile" >&2; exit 2 ;;
esac
