"""Reading the subject's motion from its key frames: the only measured images of the chain.

``keyframe_motion`` measures, per key frame, the LV centroid (bulk motion), the mean myocardial radius
(globally and per AHA segment) and the rotation of the myocardial ring relative to the first key frame;
``registration`` registers the key magnitude frames to the first by dense optical flow; ``periodic``
fits periodic trajectories through the key times; ``yardsticks`` turns these into the ``population +
bulk`` and ``flow`` velocity yardsticks; ``landmarks`` fits a subject's landmark times and curve
weights to its key-frame displacements with a landmark-registered population template. Nothing here
reads velocities or masks of non-key frames (the template is built from training subjects' curves).
"""
