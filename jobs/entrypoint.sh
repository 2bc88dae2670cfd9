#!/usr/bin/env bash
# Entrypoint of the jobs image (and what the local pod runner starts for it).
#
# Spark's Kubernetes scheduler backend creates executor pods from this image
# with no command and the single argument `executor`, and passes everything
# else in the environment (SPARK_DRIVER_URL, SPARK_EXECUTOR_ID, ...). That
# case starts Spark's Kubernetes executor backend as Spark's own image does;
# any other arguments run as a command (the training Job's spark-submit).
set -euo pipefail

if [ "${1:-}" != "executor" ]; then
  exec "$@"
fi
shift

: "${SPARK_HOME:=$(python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
classpath="${SPARK_CONF_DIR:-$SPARK_HOME/conf}:$SPARK_HOME/jars/*${SPARK_EXTRA_CLASSPATH:+:$SPARK_EXTRA_CLASSPATH}"
[ -n "${HADOOP_CONF_DIR:-}" ] && classpath="$HADOOP_CONF_DIR:$classpath"

# SPARK_JAVA_OPT_0, _1, ... carry the executor's JVM options, in order.
java_opts=()
while IFS= read -r line; do
  java_opts+=("${line#*=}")
done < <(env | grep '^SPARK_JAVA_OPT_' | sort -t_ -k4 -n)

exec "$java" "${java_opts[@]}" -Xms"$SPARK_EXECUTOR_MEMORY" -Xmx"$SPARK_EXECUTOR_MEMORY" -cp "$classpath" \
  org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
  --driver-url "$SPARK_DRIVER_URL" \
  --executor-id "$SPARK_EXECUTOR_ID" \
  --cores "$SPARK_EXECUTOR_CORES" \
  --app-id "$SPARK_APPLICATION_ID" \
  --hostname "$SPARK_EXECUTOR_POD_IP" \
  --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
  --podName "$SPARK_EXECUTOR_POD_NAME" \
  "$@"
