"""The holder graph (NetworkX): which holder got a subject's data from which."""
