#!/usr/bin/env bash
# Entrypoint of the jobs image (and what the local pod runner starts for it), dispatching as Spark's own
# image does (resource-managers/kubernetes/docker/src/main/dockerfiles/spark/entrypoint.sh):
#
#   executor  Spark's Kubernetes scheduler backend creates executor pods from this image with no command
#             and the single argument `executor`, and passes everything else in the environment
#             (SPARK_DRIVER_URL, SPARK_EXECUTOR_ID, SPARK_JAVA_OPT_<n>, ...): start the executor backend.
#   driver    a driver pod of cluster mode (spark-submit --deploy-mode cluster, or the Spark Operator):
#             spark-submit in client mode inside it, bound to the pod's address.
#   *         anything else runs as given (the training Job's `spark-submit ... train.py`).
#
# The image runs this under tini (ENTRYPOINT ["/usr/bin/tini", "--", ".../entrypoint.sh"]), so tini reaps
# and forwards signals and this script sees `executor` or `driver` as its first argument.
set -euo pipefail

case "${1:-}" in
  executor | driver) ;;
  *) exec "$@" ;;
esac

: "${SPARK_HOME:=$(python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}"

if [ "$1" = driver ]; then
  shift
  exec "$SPARK_HOME/bin/spark-submit" --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS:-0.0.0.0}" \
    --deploy-mode client "$@"
fi
shift

# The classpath in Spark's order: conf dir, Hadoop conf, user classpath, Spark's jars, extra, Hadoop's.
classpath="${SPARK_CLASSPATH:+$SPARK_CLASSPATH:}$SPARK_HOME/jars/*${SPARK_EXTRA_CLASSPATH:+:$SPARK_EXTRA_CLASSPATH}"
[ -n "${HADOOP_CONF_DIR:-}" ] && classpath="$HADOOP_CONF_DIR:$classpath"
classpath="${SPARK_CONF_DIR:-$SPARK_HOME/conf}:$classpath${SPARK_DIST_CLASSPATH:+:$SPARK_DIST_CLASSPATH}"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"

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
