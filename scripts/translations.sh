#!/usr/bin/env bash
# Translation catalogs: the reporter's pages (intake/translations/, from
# babel.cfg) and the reviewer console (admin/translations/, from
# babel-admin.cfg), each apart, as the two apps are.
#   scripts/translations.sh update   re-extract strings, merge into every locale
#   scripts/translations.sh compile  build the .mo files (committed)
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-pybabel}"
catalogs=("babel.cfg intake/translations" "babel-admin.cfg admin/translations")
case "${1:-}" in
  update)
    for entry in "${catalogs[@]}"; do
      read -r cfg dir <<<"$entry"
      "$PYBABEL" extract -F "$cfg" -k _l -k lazy_gettext -k lazy_pgettext:1c,2 --no-location --sort-output \
        --project tnr-intake -o "$dir/messages.pot" .
      "$PYBABEL" update -i "$dir/messages.pot" -d "$dir" --no-fuzzy-matching --ignore-obsolete --width 100
    done
    ;;
  compile)
    for entry in "${catalogs[@]}"; do
      read -r _cfg dir <<<"$entry"
      "$PYBABEL" compile -d "$dir" --statistics
    done
    ;;
  *) echo "usage: $0 update|compile" >&2; exit 2 ;;
esac
