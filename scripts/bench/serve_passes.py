"""The request loop of the engines' `serve` mode (see paired.py), shared by ort_suite.py and
torch_suite.py: each `BxS` line on stdin is answered with the seconds of one forward pass at that
shape, `rss` with the process's peak RSS in MB. Ends at end of input."""
import resource
import sys


def serve(one_pass):
    """Answers requests on stdin with `one_pass(shape)` seconds, or the peak RSS."""
    for line in sys.stdin:
        request = line.strip()
        if request == "rss":
            print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, flush=True)
        elif request:
            print(one_pass(request), flush=True)
