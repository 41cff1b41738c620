#!/usr/bin/env bash
# Regenerates the Go code of the destination plugin protocol
# (plugins/proto/destination.proto). Needs protoc (apt-get install
# protobuf-compiler) and the Go generators:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@latest
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@latest
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:$(go env GOPATH)/bin"
for tool in protoc protoc-gen-go protoc-gen-go-grpc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "proto.sh: $tool not found; see the comment at the top of this script" >&2
    exit 1
  fi
done
protoc --proto_path=plugins/proto \
  --go_out=plugins/proto --go_opt=paths=source_relative \
  --go-grpc_out=plugins/proto --go-grpc_opt=paths=source_relative \
  plugins/proto/destination.proto
