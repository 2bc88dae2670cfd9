"""Rewrite the AWS SDK v2 bundle jar with only the service clients S3A uses (the jobs image build runs this).

The bundle (software.amazon.awssdk:bundle, which hadoop-aws depends on) shades the SDK's own dependencies
and carries a client for each of ~400 AWS services: 686 MB, of which S3A needs a few. Keeping the whole
jar minus the other services' packages keeps Hadoop's tested set of shaded classes (the reason it uses the
bundle rather than the per-service jars) and drops ~97% of the bytes. The JVM loads classes lazily, so
a service package nothing names is never missed. hack/fetch-spark-jars.sh has checked the downloaded
jar's sha256 before this runs.

    python3 hack/trim-aws-bundle.py bundle-2.35.4.jar   # in place
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

SERVICES = "software/amazon/awssdk/services/"
KEEP = {
    "s3",  # the S3A client and its transfer manager
    "s3control",  # access points
    "sts",  # assumed-role and web-identity (IRSA) credentials
    "sso",  # the default credential chain's SSO profile providers
    "ssooidc",
}


def kept(name: str) -> bool:
    if not name.startswith(SERVICES):
        return True
    service = name.removeprefix(SERVICES).split("/", 1)[0]
    return service in KEEP or name == SERVICES


def trim(jar: Path) -> tuple[int, int]:
    """Rewrite `jar` atomically without the other services; return (bytes before, bytes after)."""
    staged = jar.with_name(f".{jar.name}.trim")
    with zipfile.ZipFile(jar) as source, zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            if kept(entry.filename):
                target.writestr(entry, source.read(entry), compress_type=entry.compress_type)
    before = jar.stat().st_size
    os.replace(staged, jar)
    return before, jar.stat().st_size


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    for name in argv:
        before, after = trim(Path(name))
        print(f"{name}: {before / 1e6:.0f} MB -> {after / 1e6:.0f} MB (services kept: {', '.join(sorted(KEEP))})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
