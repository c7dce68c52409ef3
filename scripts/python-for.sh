#!/usr/bin/env bash
# Prints the path of a Python interpreter of the given minor version (e.g. 3.12), or nothing.
set -u
want="$1"
for candidate in "python$want" ; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys' >/dev/null 2>&1; then
    command -v "$candidate"; exit 0
  fi
done
root="${PYENV_ROOT:-$HOME/.pyenv}"
for dir in $(ls -d "$root"/versions/"$want".* 2>/dev/null | sort -V -r); do
  if [ -x "$dir/bin/python3" ]; then echo "$dir/bin/python3"; exit 0; fi
done
if command -v python3 >/dev/null 2>&1 && [ "$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$want" ]; then
  command -v python3; exit 0
fi
exit 1
