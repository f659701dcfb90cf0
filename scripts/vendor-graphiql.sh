#!/usr/bin/env bash
# Vendors the browser assets of the GraphiQL page into server/http/graphiql/static/ so the
# page works on machines without internet. Needs npm (registry access) and tar.
# Re-run after changing a pin below; the resulting files are committed.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATIC_DIR="$REPO_ROOT/server/http/graphiql/static"

# name version sha512-integrity (from `npm view NAME@VERSION dist.integrity`)
PINS=(
  "react 18.3.1 sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ=="
  "react-dom 18.3.1 sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw=="
  "graphiql 3.9.0 sha512-rJYFlHdBbug9+YbFSwRVvgfPjCayC7wHecZkx/qB4XLuQPFQZw/yB9pmHFtOJV6RiNBBHro3u1GdocKa3YcGRA=="
  "graphql-ws 6.4.2 sha512-wxhPhhOGJo8PbGDkBYVE76sZLDrS+GkyrR4bZECSLVbo0pZZNKs0HtBh2Ip/uaUuiVUxwO9ssI9R92buQfNSqQ=="
)

# package -> "source-inside-tarball:destination-name" pairs
declare -A FILES=(
  [react]="umd/react.production.min.js:react.production.min.js LICENSE:LICENSE.react"
  [react-dom]="umd/react-dom.production.min.js:react-dom.production.min.js LICENSE:LICENSE.react-dom"
  [graphiql]="graphiql.min.js:graphiql.min.js graphiql.min.css:graphiql.min.css LICENSE:LICENSE.graphiql"
  [graphql-ws]="umd/graphql-ws.min.js:graphql-ws.min.js LICENSE.md:LICENSE.graphql-ws"
)

WORK_DIR="$(mktemp -d)"
trap 'rm -rf "$WORK_DIR"' EXIT

sha512_integrity() {
  echo "sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)"
}

fetch_package() {
  local name="$1" version="$2" integrity="$3"
  local tarball
  tarball="$(cd "$WORK_DIR" && npm pack --silent "$name@$version" | tail -n1)"
  if [[ "$(sha512_integrity "$WORK_DIR/$tarball")" != "$integrity" ]]; then
    echo "integrity mismatch for $name@$version" >&2
    exit 1
  fi
  mkdir -p "$WORK_DIR/$name"
  tar -xzf "$WORK_DIR/$tarball" -C "$WORK_DIR/$name"
}

copy_files() {
  local name="$1" pair
  for pair in ${FILES[$name]}; do
    cp "$WORK_DIR/$name/package/${pair%%:*}" "$STATIC_DIR/${pair##*:}"
  done
}

# Source maps are not vendored; the dangling reference would only make browsers request them.
strip_source_map_references() {
  sed -i '/^\/\/# sourceMappingURL=/d' "$STATIC_DIR"/*.js
}

rm -rf "$STATIC_DIR"
mkdir -p "$STATIC_DIR"
{
  echo "# Vendored by scripts/vendor-graphiql.sh from the npm registry"
} > "$STATIC_DIR/VERSIONS.txt"

for pin in "${PINS[@]}"; do
  read -r name version integrity <<< "$pin"
  fetch_package "$name" "$version" "$integrity"
  copy_files "$name"
  echo "$name $version $integrity" >> "$STATIC_DIR/VERSIONS.txt"
done
strip_source_map_references

ls -l "$STATIC_DIR"
