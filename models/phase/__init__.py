"""Stage 2, phase synthesis: the foreground-background GAN (``model``: construction, training and state;
``inference``: its foreground and composite at inference; ``options``: its options and their checks), the
background and tissue noise models it composites with (``background_noise``, ``tissue_noise``), the
whole-cine synthesis loop (``synthesis``) and ``test.py --model phase`` against its yardsticks
(``evaluation``)."""
