"""Storage options: read as a pod mounts them, mapped to s3fs and S3A, never shown."""

from __future__ import annotations

import json
from pathlib import Path

import fsspec.config
import pytest

from clickcast.jobs import s3a
from clickcast.store import credentials
from clickcast.store.credentials import CredentialsError, StorageOptions

pytestmark = pytest.mark.unit
SECRET = "s3cr3t-value"


def test_a_mounted_secret_directory_is_read_key_by_key(tmp_path: Path) -> None:
    mounted = tmp_path / "secret"
    (mounted / "..2026_11_27").mkdir(parents=True)  # Kubernetes' atomic-update directories are skipped
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AK",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "endpoint_url": "http://h:9",
    }.items():
        (mounted / name).write_text(value + "\n")
    options = credentials.from_environment({credentials.ENV: str(mounted)})
    assert options == StorageOptions(key="AK", secret=SECRET, endpoint_url="http://h:9")
    assert SECRET not in repr(options)
    assert options.fsspec() == {"key": "AK", "secret": SECRET, "endpoint_url": "http://h:9"}
    assert credentials.from_environment({}) is None


def test_bad_options_name_the_problem_not_the_value(tmp_path: Path) -> None:
    (tmp_path / "o.json").write_text(json.dumps({"key": "AK", "secrett": SECRET}))
    with pytest.raises(CredentialsError, match="unknown storage option 'secrett'") as err:
        credentials.load(tmp_path / "o.json")
    assert SECRET not in str(err.value)
    with pytest.raises(CredentialsError, match="both a key and a secret"):
        StorageOptions.from_mapping({"key": "AK"})
    (tmp_path / "bad.json").write_text("{" + SECRET)
    with pytest.raises(CredentialsError, match="cannot read") as err:
        credentials.load(tmp_path / "bad.json")
    assert SECRET not in str(err.value)


def test_install_makes_the_options_every_s3_filesystem_default() -> None:
    saved = dict(fsspec.config.conf)
    try:
        credentials.install(StorageOptions(key="AK", secret=SECRET, region="eu-west-1"))
        assert fsspec.config.conf["s3"] == {
            "key": "AK",
            "secret": SECRET,
            "client_kwargs": {"region_name": "eu-west-1"},
        }
    finally:
        fsspec.config.conf.clear()
        fsspec.config.conf.update(saved)


def test_spark_reads_s3_urls_through_s3a_with_the_same_options() -> None:
    assert s3a.spark_url("s3://lake/clicks") == "s3a://lake/clicks"
    assert s3a.spark_url("file:///data/x") == "/data/x"
    assert s3a.spark_url("gs://b/x") == "gs://b/x"
    conf = s3a.hadoop_conf(StorageOptions(key="AK", secret=SECRET, endpoint_url="http://127.0.0.1:9000"))
    assert conf == {
        "fs.s3a.path.style.access": "true",
        "fs.s3a.access.key": "AK",
        "fs.s3a.secret.key": SECRET,
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "fs.s3a.endpoint": "http://127.0.0.1:9000",
        "fs.s3a.connection.ssl.enabled": "false",
        "fs.s3a.endpoint.region": "us-east-1",
    }
    temporary = s3a.hadoop_conf(StorageOptions(key="AK", secret=SECRET, token="T"))
    assert temporary["fs.s3a.aws.credentials.provider"].endswith("TemporaryAWSCredentialsProvider")
    assert "fs.s3a.endpoint" not in temporary  # real S3: the SDK's own endpoint resolution
