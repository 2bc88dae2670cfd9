"""Batch scoring: expected clicks for every valid row of a dataset, written to parquet.

Output (a parquet directory): the contract columns (date, categoryId,
merchantId, category, device, price), any extra input columns (clicks too, if
present), then `predicted` (double, expected clicks), `model` and
`model_version`. Rows that break the contract are counted, not scored.

Each Arrow batch is encoded and predicted where it is (`mapInArrow`): the
input columns go back to Spark untouched, with the prediction appended; no
row becomes a Python object.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

from clickcast.api.spec import DataFormat
from clickcast.features.arrow import encode_batch
from clickcast.features.spec import FeatureSpec
from clickcast.jobs.data import BadRows, read_dataset, spark_path
from clickcast.jobs.predict import ModelBlob
from clickcast.model.artifact import load_predictor

PREDICTED = "predicted"


@dataclass(frozen=True)
class ScoreResult:
    version: str
    rows: int
    bad_rows: BadRows
    output: str


def score(
    spark: SparkSession,
    model_uri: str,
    data_url: str,
    out_url: str,
    fmt: DataFormat | str = DataFormat.PARQUET,
    *,
    manifest_sha256: str | None = None,
) -> ScoreResult:
    predictor = load_predictor(model_uri, manifest_sha256)  # verifies every checksum before anything is scored
    blob = ModelBlob(predictor.model_file, predictor.version.files[predictor.model_file])
    data = read_dataset(spark, data_url, fmt, target_column=None)
    source = data.rows.columns
    scored = predict_arrow(data.rows, blob, predictor.features, PREDICTED).select(
        *source,
        PREDICTED,
        F.lit(predictor.version.manifest.model).alias("model"),
        F.lit(predictor.version_id).alias("model_version"),
    )
    scored.write.mode("errorifexists").parquet(spark_path(out_url))
    return ScoreResult(predictor.version_id, data.read_rows - data.bad.total, data.bad, out_url)


def predict_arrow(df: DataFrame, blob: ModelBlob, spec: FeatureSpec, output: str) -> DataFrame:
    """`df` (contract rows) with a double column `output`, encoded by the reference transform on Arrow batches."""
    schema = T.StructType([*df.schema.fields, T.StructField(output, T.DoubleType())])

    def batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        model = blob.load()
        for batch in batches:
            predicted = model.predict_matrix(encode_batch(spec, batch))
            yield pa.RecordBatch.from_arrays(
                [*batch.columns, pa.array(predicted, type=pa.float64())], names=[*batch.schema.names, output]
            )

    return df.mapInArrow(batches, schema)
