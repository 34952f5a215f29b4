#!/usr/bin/env bash
# Refresh the translation catalogs: extract messages, merge them into each catalog's .po,
# compile the .mo files the app reads. Translate the new (empty) entries, then run it again.
#
#   bash scripts/i18n.sh              # every catalog: core, then each plugin with messages
#   bash scripts/i18n.sh followup     # one plugin's catalog only (or "core")
#   bash scripts/i18n.sh examples/hotline/hcrm_hotline   # a plugin package by its folder
#
# Each part owns its catalog: core/translations for the core, plugins/<name>/translations for a
# plugin (Flask-Babel merges them), so a plugin ships, and is translated, on its own.
# The folder is zh_Hans_CN, not zh_CN: Flask-Babel parses the configured locale "zh_CN" into
# Babel's Locale zh_Hans_CN and looks for a folder of that name (then "zh"), so a zh_CN folder
# would silently never load.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

refresh() {  # folder holding the sources; its catalog goes to <folder>/translations
  local folder="$1" pot
  pot="$(mktemp --suffix=.pot)"
  # --ignore-dirs replaces Babel's default (".* ._"), so repeat it: hidden folders hold no messages.
  pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -k _m -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2 -k N_ \
    --ignore-dirs=".* ._ __pycache__ tests scaffold_template translations" \
    --no-location --sort-output -o "$pot" "$folder"
  if ! grep -q '^msgid "[^"]' "$pot"; then
    rm -f "$pot"; return 0  # nothing to translate here
  fi
  if [ ! -f "$folder/translations/zh_Hans_CN/LC_MESSAGES/messages.po" ]; then
    pybabel -q init -i "$pot" -d "$folder/translations" -l zh_Hans_CN
  else
    pybabel -q update --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date \
      -i "$pot" -d "$folder/translations"
  fi
  rm -f "$pot"
  echo "$folder:"
  # --statistics reports untranslated entries even under -q: the count to bring to zero.
  pybabel compile -d "$folder/translations" --statistics
}

if [ "$#" -eq 0 ]; then
  set -- core $(cd plugins && for d in */; do [ -f "$d/__manifest__.py" ] && echo "${d%/}"; done)
fi
for target in "$@"; do
  if [ "$target" = core ]; then refresh core
  elif [ -f "plugins/$target/__manifest__.py" ]; then refresh "plugins/$target"
  elif [ -f "$target/__manifest__.py" ]; then refresh "${target%/}"
  else echo "i18n.sh: no plugin named '$target' (expected core or a folder of plugins/)" >&2; exit 2
  fi
done
