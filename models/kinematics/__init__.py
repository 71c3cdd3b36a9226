"""Reading the subject's motion from its key frames: the only measured images of the chain.

``keyframe_motion`` measures, per key frame, the LV centroid (bulk motion), the mean myocardial radius
(globally and per AHA segment) and the rotation of the myocardial ring relative to the first key frame;
``registration`` registers the key magnitude frames to the first by dense optical flow; ``periodic``
fits periodic trajectories through the key times; ``yardsticks`` turns these into the ``population +
bulk`` and ``flow`` velocity yardsticks; ``population`` holds the population's mean curves per cycle
fraction. The kinematic prior (``prior.KinematicPrior``) reads the subject from the same measures:
``landmarks`` (events of the cycle on a curve), ``templates`` (the population's landmark-registered
displacement curves), ``fit`` (the subject's timing, gains and segment delays), ``choice`` (how far the
subject's key frames carry: the model chosen per subject) and ``paint`` (the curves on the twin's
myocardium); ``subject`` keeps a subject's prior as curves to paint. Nothing here reads velocities or masks of
non-key frames at inference.
"""
