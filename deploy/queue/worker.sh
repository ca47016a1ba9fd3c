#!/usr/bin/env bash
# A tesserae queue worker on this machine: takes batches from the queue until stopped (Ctrl-C or
# SIGTERM lets it finish the batch in hand). Give it the producer's graph and checkpoint.
#   REDIS_URL=redis://host:6379 GRAPH=graphs/clip-score.tsr WEIGHTS=/data/clip deploy/queue/worker.sh
set -euo pipefail
: "${REDIS_URL:?set REDIS_URL, e.g. redis://host:6379}"
: "${WEIGHTS:?set WEIGHTS to the checkpoint folder the producer uses}"
GRAPH="${GRAPH:-graphs/clip-score.tsr}"
exec npx tesserae embed "$GRAPH" --weights "$WEIGHTS" --queue "$REDIS_URL" --worker "$@"
