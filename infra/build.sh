#!/usr/bin/env bash
# Release build of the two binaries the images ship (the pipeline's "release build"
# stage; the Dockerfiles build the same way inside their builder stage).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  -h | --help)
    echo "Usage: infra/build.sh [--dry-run]"
    echo "cargo build --release --locked of service and controller; prints the binaries' sizes."
    exit 0
    ;;
  --dry-run) HF_DRY_RUN=1 ;;
  "") ;;
  *) die "unknown argument '$1' (see --help)" ;;
esac

cd "$REPO_DIR"
run cargo build --release --locked -p service -p controller --bins
if [ "$HF_DRY_RUN" != 1 ]; then
  ls -l target/release/service target/release/controller
fi
