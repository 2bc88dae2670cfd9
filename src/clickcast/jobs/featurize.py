"""Fitting the FeatureSpec on training rows and applying it in Spark.

The Spark transform must give exactly the numbers of the serving-side
reference `clickcast.features.spec.encode_columns`: categorical codes by
frequency rank with 0 for unseen, rare or null values, numeric values as
float32, date features with Monday = 0.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

from clickcast.api.spec import DateFeature, Features
from clickcast.features.contract import DATE
from clickcast.features.spec import UNKNOWN_CODE, CategoricalVocabulary, FeatureSpec

FEATURE_PREFIX = "f_"


def feature_column(name: str) -> str:
    """Spark column holding one model input (the contract columns stay as they are beside it)."""
    return f"{FEATURE_PREFIX}{name}"


def fit_feature_spec(df: DataFrame, features: Features) -> FeatureSpec:
    """Keep per categorical column the `maxCategories` most frequent values seen `minCategoryCount` times or more.

    Ties are broken by the value (string order) so refitting on the same data gives the same codes.
    """
    vocabularies = []
    for column in features.categorical:
        value = F.col(column).cast("string")
        rows = (
            df.where(value.isNotNull())
            .groupBy(value.alias("value"))
            .count()
            .where(F.col("count") >= features.min_category_count)
            .orderBy(F.col("count").desc(), F.col("value").asc())
            .limit(features.max_categories)
            .collect()
        )
        vocabularies.append(CategoricalVocabulary(column=column, values=[str(r["value"]) for r in rows]))
    return FeatureSpec(
        date_column=DATE, categorical=vocabularies, numeric=list(features.numeric), date_features=features.date_features
    )


def _date_feature(feature: DateFeature, day: Column) -> Column:
    dow = (F.dayofweek(day) + 5) % 7  # Spark: Sunday = 1; the spec: Monday = 0
    if feature is DateFeature.DAY_OF_WEEK:
        return dow
    if feature is DateFeature.IS_WEEKEND:
        return F.when(dow >= 5, 1).otherwise(0)
    if feature is DateFeature.MONTH:
        return F.month(day)
    if feature is DateFeature.DAY_OF_MONTH:
        return F.dayofmonth(day)
    return F.weekofyear(day)  # ISO week, like the reference


def apply_feature_spec(df: DataFrame, spec: FeatureSpec) -> DataFrame:
    """Add one float column per model input (`f_<feature name>`), in `spec.feature_names` order."""
    spark = df.sparkSession
    out = df
    for vocab in spec.categorical:
        name = feature_column(vocab.column)
        key = f"_{name}_key"
        # A broadcast join, not a literal map: vocabularies of thousands of values stay cheap to plan.
        codes = spark.createDataFrame(
            [(v, i + 1) for i, v in enumerate(vocab.values)],
            T.StructType([T.StructField(key, T.StringType()), T.StructField(name, T.IntegerType())]),
        )
        out = out.join(F.broadcast(codes), F.col(vocab.column).cast("string") == F.col(key), "left").drop(key)
        out = out.withColumn(name, F.coalesce(F.col(name), F.lit(UNKNOWN_CODE)).cast("float"))
    for column in spec.numeric:
        out = out.withColumn(feature_column(column), F.col(column).cast("double").cast("float"))
    day = F.col(spec.date_column).cast("date")
    for feature in spec.date_features:
        out = out.withColumn(feature_column(str(feature)), _date_feature(feature, day).cast("float"))
    return out


def feature_columns(spec: FeatureSpec) -> list[str]:
    return [feature_column(n) for n in spec.feature_names]
