"""Rights requests: erasure (Art. 17) propagated to every holder, rectification (Art. 16)
and restriction (Art. 18) notified to every recipient (Art. 19), tracked to the end."""
