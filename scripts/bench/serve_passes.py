"""The request loop of the engines' `serve` mode (see paired.py), shared by ort_suite.py and
torch_suite.py: each `BxS` line on stdin is answered with the seconds of one forward pass at that
shape, `rss` with the process's peak RSS in MB. Ends at end of input."""
import resource
import sys


def peak_rss_mb():
    """This process's peak RSS in MB: `VmHWM`, which starts afresh at exec (as bench_suite reads
    it). `ru_maxrss` survives exec, so a child of a large parent (paired.py after quantising a
    model in-process) would report the parent's peak; it is the fallback where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serve(one_pass):
    """Answers requests on stdin with `one_pass(shape)` seconds, or the peak RSS."""
    for line in sys.stdin:
        request = line.strip()
        if request == "rss":
            print(peak_rss_mb(), flush=True)
        elif request:
            print(one_pass(request), flush=True)
