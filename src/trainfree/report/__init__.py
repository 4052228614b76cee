"""An HTML report of a result store: what a run found, and how far to trust it.

``write_report`` reads the SQLite store and writes one self-contained ``index.html`` (images
embedded): the trajectory of each recorded search in readable units (the trained accuracy of the
search's pick when a benchmark is given, else the pick's percentile among the architectures the
search queried), what happened (evaluations vs distinct architectures, failures and their
reasons, time per architecture, the data and init behind every score), proxy vs target scatters
robust to floor values and heavy tails, Spearman's rho per proxy with percentile-bootstrap 95%
intervals (resampling architectures) and the proxy x proxy rank-correlation heatmap.
Correlations are oriented by each proxy's ``higher_is_better``, so a positive rho always means
"ranks architectures like the target" (for the heatmap: "ranks them like the other proxy").
"""

from trainfree.report.reading import store_space
from trainfree.report.write import write_report

__all__ = ["store_space", "write_report"]
