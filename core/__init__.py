"""Model Size Lab core: models, variants, tasks and measurement. Never imports Qt.

Modules that need torch import it at module level (loading, tasks, derive, bench, training);
the light ones (catalog, variants, errors, cancel, stats, paths, report) do not, so the GUI can
import them on its thread without paying for torch.
"""

__version__ = "0.1.0"
