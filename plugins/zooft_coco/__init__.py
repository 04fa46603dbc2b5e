"""zooft's detection data formats: COCO JSON (``coco``) and Pascal VOC XML (``voc``).

Both only index files and boxes (no pixels, no TensorFlow); :mod:`.check` reports bad
annotations with their ids before training starts.
"""
