"""The chain: key-frame plan (``keyframes``), the two-stage predictor (``predictor``), the options and
driver of ``test.py --model hdl`` (``options``, ``evaluation``) and the results page (``report``)."""
