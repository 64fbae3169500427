"""A fixed amount of CPU work for the Python drivers' training steps, calibrated once to a
duration and then run by count, so that time taken from the thread by other threads lengthens
it (as it would a real step):
  busy_work        a loop of dependent floating-point operations in Python (holds the GIL);
  native_work      SHA-256 over a 16 KiB buffer, chunk after chunk: CPU work in native code that
                   releases the GIL meanwhile, as a framework's compute kernels do."""
import hashlib
import time

_CHUNK = bytes(16384)


def busy_work(iterations, x=1.0):
    for _ in range(iterations):
        x = x * 1.0000001 + 1e-9
    return x


def native_work(chunks):
    h = None
    for _ in range(chunks):
        h = hashlib.sha256(_CHUNK)  # hashlib releases the GIL for data > 2047 bytes
    return h


def _calibrate(fn, probe, target_us, trials):
    times = []
    for _ in range(trials):
        t0 = time.perf_counter_ns()
        fn(probe)
        times.append(time.perf_counter_ns() - t0)
    times.sort()
    per_unit = times[len(times) // 2] / probe
    return max(1, round(target_us * 1000 / per_unit))


def calibrate(target_us, trials=21):
    """Iterations of busy_work that take target_us on this core (median of trials)."""
    return _calibrate(busy_work, 20000, target_us, trials)


def calibrate_native(target_us, trials=21):
    """Chunks of native_work that take about target_us on this core."""
    return _calibrate(native_work, 64, target_us, trials)
