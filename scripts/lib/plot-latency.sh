# Sourced by scripts/bench. mm_plot_latency DATA_DIR PLOT TITLE OUT.png draws every series
# DATA_DIR/PLOT__<series>.dat (lines "percentile latency_ms", written by the bench programs'
# WriteDistribution) on one chart: latency by percentile, the x axis stretched towards the
# tail as HdrHistogram plots do (x = 1/(1-p)), so p99 and p99.9 get as much room as the median.
mm_plot_latency() {
  local dir="$1" plot="$2" title="$3" out="$4" f series plots=()
  for f in "$dir/$plot"__*.dat; do
    [ -e "$f" ] || continue
    series=$(basename "$f" .dat)
    series=${series#"${plot}__"}
    plots+=("'$f' using (\$1 < 99.999 ? 1/(1-\$1/100) : 1/0):2 with lines lw 2 title '$series'")
  done
  [ ${#plots[@]} -gt 0 ] || return 0
  local joined
  joined=$(printf '%s, ' "${plots[@]}")
  gnuplot <<GNUPLOT
set terminal pngcairo size 900,520 font ",10"
set output '$out'
set title '$title'
set logscale x
set xrange [1:100000]
set xtics ("0%%" 1, "50%%" 2, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000, "99.999%%" 100000)
set xlabel 'percentile'
set ylabel 'latency (ms)'
set grid
set key top left
plot ${joined%, }
GNUPLOT
}
