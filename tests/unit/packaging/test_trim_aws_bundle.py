"""hack/trim-aws-bundle.py (the jobs image build): the SDK bundle keeps S3A's clients and everything shared."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.manifests import ROOT

pytestmark = pytest.mark.unit


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("trim_aws_bundle", ROOT / "hack" / "trim-aws-bundle.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_other_services_go_and_s3a_classes_and_shared_code_stay(tmp_path: Path) -> None:
    jar = tmp_path / "bundle-2.35.4.jar"
    entries = {
        "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n",
        "software/amazon/awssdk/services/s3/S3Client.class": b"s3",
        "software/amazon/awssdk/services/sts/StsClient.class": b"sts",
        "software/amazon/awssdk/services/ec2/Ec2Client.class": b"ec2" * 1000,
        "software/amazon/awssdk/services/s3outposts/X.class": b"not s3",
        "software/amazon/awssdk/core/SdkBytes.class": b"core",
        "software/amazon/awssdk/thirdparty/org/apache/http/client/utils/URIBuilder.class": b"shaded",
    }
    with zipfile.ZipFile(jar, "w") as out:
        for name, data in entries.items():
            out.writestr(name, data)
    before, after = _script().trim(jar)
    with zipfile.ZipFile(jar) as result:
        names = set(result.namelist())
        assert result.read("software/amazon/awssdk/services/s3/S3Client.class") == b"s3"
    assert names == set(entries) - {
        "software/amazon/awssdk/services/ec2/Ec2Client.class",
        "software/amazon/awssdk/services/s3outposts/X.class",
    }
    assert after < before
    assert not list(tmp_path.glob(".*")), "the rewrite is staged beside the jar and renamed over it"
