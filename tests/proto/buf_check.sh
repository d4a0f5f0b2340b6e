#!/usr/bin/env bash
# Proto hygiene: `buf lint` on proto/ must be clean, and once a release tag exists, `buf breaking`
# against the newest one must find no breaking change to the public API.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
buf="$("$root/scripts/buf-tool")"
cd "$root/proto"
echo "buf lint (buf $("$buf" --version))"
"$buf" lint
tag="$(git -C "$root" describe --tags --abbrev=0 --match 'v*' 2>/dev/null || true)"
if [[ -n "$tag" ]]; then
  echo "buf breaking against release $tag"
  "$buf" breaking --against "$root/.git#tag=$tag,subdir=proto"
else
  echo "no release tag (v*) yet: breaking-change check has nothing to compare against"
fi
echo "proto checks passed"
