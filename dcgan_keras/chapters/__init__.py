"""The chapters' own code: the measurements and figures that the notebooks show.

The library (``dcgan_keras``) is what scripts import; nothing in it imports
this sub-package. Each module here serves one notebook (or a few; the notebooks are
01-06 in ``notebooks/``) and builds on the library's public pieces:

| module | notebook | holds |
| --- | --- | --- |
| ``generator_anatomy`` | 01 | layer tables and code, pooling vs strides, z sweeps, direct fits, the one-layer G |
| ``conv_arithmetic`` | 02 | the transposed convolution in numpy, three ways: the tests' oracle |
| ``conv_diagrams`` | 02 | numbered-cell grids of zero insertion |
| ``gradients`` | 01-03 | gradients with respect to inputs or weights, on any backend |
| ``discriminator_probes`` | 03 | saliency and its controls, borders, dead gradients, shift and detail probes |
| ``training_diagnostics`` | 04 | diversity, collapse, BatchNorm probes, crash and resume |
| ``experiments`` | 05 (01, 03, 04) | the MNIST grid: variants, budget, results file, verdict table |
| ``ablation`` | 05, 06 | one-change variants, the He control, mean ± SE, Welch and Holm verdicts |
| ``latent_space`` | 05 | interpolation norms, vector arithmetic on exemplars |
| ``discriminator_features`` | 05 | D as a feature extractor, the linear probe |
| ``colour_grid`` | 06 | the depth-four emoji grid: pilot, budget, per-checkpoint measures, results |
| ``colour_runs`` | 06 | the emoji default run and its files |
| ``measures`` | 01, 04-06 | distances, neighbours, near-duplicates, stroke thickness, slant, checkerboards |
| ``statistics`` | 05, 06 | standard errors, Welch's t, Holm's correction, verdict words |
| ``figures`` | 01, 02, 04 | annotated heatmaps, side-by-side sample panels |
| ``cached_runs`` | 01, 05, 06 | trained runs cached on disk |
| ``notebook`` | all | the fast switch, the repository's assets, notebook cleaning |

Importing this package first (every notebook's first cell does) imports
TensorFlow, when it is the backend, without its C++ start-up lines.
"""

from dcgan_keras.console import import_tensorflow_quietly

import_tensorflow_quietly()
