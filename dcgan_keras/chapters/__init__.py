"""The chapters' own code: the measurements and figures that the notebooks show.

The library (``dcgan_keras``) is what scripts import; nothing in it imports
this sub-package. Each module here serves one notebook (or a few) and builds on
the library's public pieces:

| module | notebook | holds |
| --- | --- | --- |
| ``generator_anatomy`` | 01 generator upsampling | layer tables and code, pooling vs strides, z sweeps, direct fits, activations |
| ``conv_diagrams`` | 02 fractional-strided convolution | numbered-cell grids of zero insertion |
| ``discriminator_probes`` | 03 discriminator design | saliency and its controls, borders, dead gradients, shift and detail sensitivity |
| ``training_diagnostics`` | 04 training loop | diversity, collapse, BatchNorm probes, crash and resume |
| ``experiments`` | 05 experiments (and 01, 03, 04) | the MNIST grid: variants, budget, results file, README table |
| ``ablation`` | 05, 06 | one-change variants, the He control, mean ± SE, Welch and Holm verdicts |
| ``latent_space`` | 05 experiments | interpolation norms, vector arithmetic on exemplars |
| ``discriminator_features`` | 05 experiments | D as a feature extractor, the linear probe |
| ``colour_runs`` | 06 the paper's generator in colour | the emoji default run, the depth-four variants, their tables |
| ``measures`` | 01, 04, 05, 06 | image distances, nearest neighbours, near-duplicates, stroke thickness, slant, checkerboards |
| ``statistics`` | 05, 06 | standard errors, Welch's t, Holm's correction, verdict words |
| ``figures`` | 01, 02, 04 | annotated heatmaps, side-by-side sample panels |
| ``cached_runs`` | 01, 05, 06 | trained runs cached on disk |
| ``notebook`` | all | the fast switch, the repository's assets, notebook cleaning |

The transposed convolution in numpy (``dcgan_keras.conv_arithmetic``) is part
of the library: ``layers`` derives its sub-pixel kernels from it, notebook 02
opens it up, and the tests use it as their oracle.
"""
