#!/usr/bin/env bash
# Fetch the jars Spark needs for s3a:// (hadoop-aws and the AWS SDK it was
# built against) from Maven Central, pinned by version and sha256, into
# $CLICKCAST_CACHE/jars/hadoop-aws-<v>/. The versions match the Hadoop inside
# the pyspark locked in uv.lock (pyspark 4.3.0 ships hadoop-client 3.5.0; the
# SDK and analytics-accelerator versions are those of hadoop-project 3.5.0's
# pom). Re-running with a warm cache is a no-op that prints the directory
# (callers read the last line).
set -euo pipefail

HADOOP_VERSION="3.5.0"
CACHE="${CLICKCAST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clickcast}"
DIR="$CACHE/jars/hadoop-aws-$HADOOP_VERSION"
MAVEN="${CLICKCAST_MAVEN_REPO:-https://repo1.maven.org/maven2}"

# path under the repository, sha256
JARS=(
  "org/apache/hadoop/hadoop-aws/3.5.0/hadoop-aws-3.5.0.jar 66bd9eefb938b1a1657487324b63c13df2d8b17164a1dd24e0ef37b905bc5baa"
  "software/amazon/awssdk/bundle/2.35.4/bundle-2.35.4.jar db4b55f24ad1b4e70f17eb1717a4de76a8dadc5a27d764be7c44ff67b2c1c677"
  "software/amazon/s3/analyticsaccelerator/analyticsaccelerator-s3/1.3.1/analyticsaccelerator-s3-1.3.1.jar 4959a9747cbb479c73c3ffbcd479bee5b014f8b2880994585a8693fb9d24675e"
)

log() { printf '[fetch-spark-jars %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$DIR"
for entry in "${JARS[@]}"; do
  read -r path sha <<<"$entry"
  file="$DIR/$(basename "$path")"
  if [ -f "$file" ]; then continue; fi
  log "downloading $(basename "$path") from Maven Central (the AWS SDK bundle is ~650 MB, once)"
  curl -fsSL --retry 3 -o "$file.part" "$MAVEN/$path" || die "could not download $MAVEN/$path"
  got="$(sha256sum "$file.part" | cut -d' ' -f1)"
  [ "$got" = "$sha" ] || { rm -f "$file.part"; die "$(basename "$path"): sha256 $got, expected $sha"; }
  mv "$file.part" "$file"
done
echo "$DIR"
