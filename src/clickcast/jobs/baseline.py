"""The Spark ML Poisson GLM: always trained as the baseline, and the model itself when the algorithm is glm."""

from __future__ import annotations

from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import GeneralizedLinearRegression
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812

from clickcast.api.spec import GLMParams
from clickcast.features.contract import CLICKS
from clickcast.features.spec import FeatureSpec
from clickcast.jobs.featurize import feature_column
from clickcast.model.glm import LEVEL_DATE_FEATURES, GlmModel, GlmTerm, TermKind, glm_terms

DESIGN = "_glm_design"


def _term_column(term: GlmTerm) -> Column:
    x = F.coalesce(F.nanvl(F.col(feature_column(term.feature)).cast("double"), F.lit(0.0)), F.lit(0.0))
    if term.kind is TermKind.LEVEL:
        return (x == F.lit(term.level)).cast("double")
    if term.kind is TermKind.LINEAR:
        return x
    return F.log1p(F.greatest(x, F.lit(0.0)))


def with_design(df: DataFrame, terms: list[GlmTerm]) -> DataFrame:
    """Add the GLM design vector (the same terms GlmModel.design computes in numpy)."""
    names = [f"_glm_{k}" for k in range(len(terms))]
    wide = df.select("*", *[_term_column(t).alias(n) for t, n in zip(terms, names, strict=True)])
    return VectorAssembler(inputCols=names, outputCol=DESIGN, handleInvalid="keep").transform(wide).drop(*names)


def train_glm(train: DataFrame, spec: FeatureSpec, params: GLMParams) -> GlmModel:
    """Fit the Poisson GLM by IRLS on encoded training rows (with `f_*` feature columns)."""
    level_dates = [str(f) for f in spec.date_features if f in LEVEL_DATE_FEATURES]
    date_levels: dict[str, list[int]] = {}
    for name in level_dates:
        values = train.select(feature_column(name)).distinct().collect()
        date_levels[name] = sorted(int(r[0]) for r in values if r[0] is not None)
    terms = glm_terms(spec, date_levels)
    glr = GeneralizedLinearRegression(
        family="poisson",
        link="log",
        featuresCol=DESIGN,
        labelCol=CLICKS,
        maxIter=params.max_iter,
        regParam=params.reg_param,
    )
    design = with_design(train, terms).select(DESIGN, CLICKS).cache()  # IRLS passes over it once per iteration
    fitted = glr.fit(design)
    design.unpersist()
    coefs = fitted.coefficients.toArray()
    return GlmModel(
        feature_names=spec.feature_names,
        intercept=float(fitted.intercept),
        terms=[t.model_copy(update={"coef": float(c)}) for t, c in zip(terms, coefs, strict=True)],
    )
