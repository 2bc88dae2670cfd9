#!/bin/sh
# Remove from an image's virtualenv what no clickcast process loads, after its dependencies are installed:
# the libraries' own test suites (about 110 MB in the jobs image: scipy, numpy, pandas, sklearn, pyspark)
# and the parts of pyarrow nothing imports (Arrow Flight, its C++ headers and Cython sources).
# Each image's build then runs its real entry point, so a removal that mattered fails the build.
#   usage: slim-venv.sh /opt/venv
set -eu
venv="${1:?usage: slim-venv.sh VENV}"
for site in "$venv"/lib/python3.*/site-packages; do
  find "$site" -depth -type d -name tests -exec rm -rf {} +
  if [ -d "$site/pyarrow" ]; then
    rm -rf "$site/pyarrow/include" "$site/pyarrow/src" "$site/pyarrow/flight.py" \
      "$site"/pyarrow/libarrow_flight.so* "$site"/pyarrow/_flight.*.so
    find "$site/pyarrow" \( -name '*.pxd' -o -name '*.pyx' -o -name '*.pxi' \) -delete
  fi
done
