"""Reports: what a run of chipsim found, as files a person opens and a script reads.

A report is a folder. `results.json` holds every figure; the CSV tables, the PNG plots and the
two pages beside them (`index.html` for a browser, `README.md` for a code host) are all drawn
from that one dictionary after it is written and read back, so a number on a page can never
disagree with the number in the file.

- `measure.measure_run` runs the models on one mapping and returns that dictionary;
- `single.write_run_report` turns it into a report folder (`chipsim report`);
- `comparison.write_comparison` puts several strategies side by side (`chipsim compare`);
- `bundled` regenerates the reports shipped in the repository's `reports/` folder.
"""

from chipsim.report.comparison import compare_rows, pareto_front, write_comparison
from chipsim.report.measure import Workload, measure_run
from chipsim.report.single import write_run_report

__all__ = ["Workload", "compare_rows", "measure_run", "pareto_front", "write_comparison",
           "write_run_report"]
