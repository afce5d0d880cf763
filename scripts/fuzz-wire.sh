#!/usr/bin/env bash
# Builds the Wire frame-reader fuzzer (Fuzz/WireFrameFuzz.swift + Sources/Wire/**/*.swift, compiled directly
# with swiftc -sanitize=fuzzer,address, linked with Sources/WireVectorCRC and Sources/WireVectorChaCha; not a
# package target) and runs it.
#   scripts/fuzz-wire.sh [SECONDS] [extra libFuzzer options]     (default 600 s)
# The checked-in seeds are in Fuzz/corpus/wire-frame/; the growing working corpus is .build/fuzz/corpus.
# Crashing inputs are written to .build/fuzz/ (crash-*); add them to the seed corpus once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
out=.build/fuzz
mkdir -p "$out/corpus"
# Wire's vector CRC kernel is a module of its own with its own flags (Package.swift): built first, linked in.
swiftc -sanitize=address -parse-as-library -O -module-name WireVectorCRC \
    -parse-stdlib -Xcc -mavx512f -Xcc -mvpclmulqdq -Xcc -mpclmul -Xcc -mcrc32 \
    -emit-module -emit-module-path "$out/WireVectorCRC.swiftmodule" \
    -c Sources/WireVectorCRC/*.swift -o "$out/WireVectorCRC.o"
# Wire's ChaCha20 kernel likewise (AVX2, called only after a CPU check).
swiftc -sanitize=address -parse-as-library -O -module-name WireVectorChaCha -Xcc -mavx2 \
    -emit-module -emit-module-path "$out/WireVectorChaCha.swiftmodule" \
    -wmo -c Sources/WireVectorChaCha/*.swift -o "$out/WireVectorChaCha.o"
# Wire's SHA-256 block kernel likewise (SHA extensions, called only after a CPU check).
swiftc -sanitize=address -parse-as-library -O -module-name WireVectorSHA \
    -parse-stdlib -Xcc -msha -Xcc -msse4.1 \
    -emit-module -emit-module-path "$out/WireVectorSHA.swiftmodule" \
    -wmo -c Sources/WireVectorSHA/*.swift -o "$out/WireVectorSHA.o"
swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name WireFuzz \
    -enable-experimental-feature Extern -Xcc -mcrc32 -I "$out" \
    $(find Sources/Wire -name '*.swift' | sort) Fuzz/WireFrameFuzz.swift "$out/WireVectorCRC.o" "$out/WireVectorChaCha.o" \
    "$out/WireVectorSHA.o" -o "$out/wire-frame-fuzz"
cp -n Fuzz/corpus/wire-frame/* "$out/corpus/" 2>/dev/null || true
exec "$out/wire-frame-fuzz" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=16384 \
    -artifact_prefix="$out/" -print_final_stats=1 "$@" "$out/corpus"
