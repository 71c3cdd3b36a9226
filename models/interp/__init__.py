"""Stage 1, frame interpolation: the hybrid UNet model and its losses (``model``), whole-cine inference
from key frames (``inference``) and ``test.py --model interp`` against linear and Fourier interpolation
(``evaluation``)."""
