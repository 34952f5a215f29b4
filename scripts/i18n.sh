#!/usr/bin/env bash
# Refresh the translation catalogs: extract messages, merge them into each language's .po,
# compile the .mo files the app reads. Translate the new (empty) entries, then run it again.
#
# The Chinese catalog lives in core/translations/zh_Hans_CN, not zh_CN: Flask-Babel parses the
# configured locale "zh_CN" into Babel's Locale zh_Hans_CN and looks for a folder of that name
# (then "zh"), so a zh_CN folder would silently never load.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
pot="$(mktemp --suffix=.pot)"
trap 'rm -f "$pot"' EXIT
# --ignore-dirs replaces Babel's default (".* ._"), so repeat it: hidden folders hold no messages.
pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -k _m -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2 \
  --ignore-dirs=".* ._ __pycache__ tests scaffold_template" \
  --no-location --sort-output -o "$pot" core plugins
if [ ! -f core/translations/zh_Hans_CN/LC_MESSAGES/messages.po ]; then
  pybabel -q init -i "$pot" -d core/translations -l zh_Hans_CN
else
  pybabel -q update --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date -i "$pot" -d core/translations
fi
# --statistics reports untranslated entries even under -q: the count to bring to zero.
pybabel compile -d core/translations --statistics
