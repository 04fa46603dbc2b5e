"""zooft's ``detect`` task: an SSD/SSDLite head on any backbone with stride 8/16/32 feature maps.

The numpy modules (:mod:`.anchors`, :mod:`.boxes`, :mod:`.postprocess`, :mod:`.cocoeval`,
:mod:`.parity`) import no TensorFlow; :mod:`.head`, :mod:`.layers`, :mod:`.losses` and
:mod:`.pipeline` import it inside their functions.
"""
