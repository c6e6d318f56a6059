"""Pictures of explanations and evaluations (matplotlib figures, no pyplot state)."""

from perturbx.viz.convergence import Trace, convergence_figure, convergence_trace
from perturbx.viz.curves import curves_figure
from perturbx.viz.grid import methods_grid
from perturbx.viz.overlay import explanation_figure, heatmap_figure, overlay, save, to_numpy_image, to_numpy_map
from perturbx.viz.pami import pami_figure
from perturbx.viz.segments import boundaries, mark_boundaries, segments_figure, top_segments
from perturbx.viz.summary import summary_figure

__all__ = [
    "Trace",
    "boundaries",
    "convergence_figure",
    "convergence_trace",
    "curves_figure",
    "explanation_figure",
    "heatmap_figure",
    "mark_boundaries",
    "methods_grid",
    "overlay",
    "pami_figure",
    "save",
    "segments_figure",
    "summary_figure",
    "to_numpy_image",
    "to_numpy_map",
    "top_segments",
]
