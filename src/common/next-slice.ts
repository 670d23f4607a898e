// common/: the one place chunked work yields the event loop. Config translation, route compilation, cluster apply,
// stats binding, sliced ADS decoding and the RE2 preload each do ≤ 8 ms of work and then await nextSlice(); every
// waiter gets its own loop turn, in arrival order, with timers and I/O (the data path) running in between.
//
// Each of them used to yield with its own setImmediate, and Node runs every immediate queued before a check phase in
// that phase: the slices of concurrent work (a mesh push's CDS, EDS and RDS, the cluster manager, stats binding) ran
// back to back, which is how 8 ms slices still made 50–100 ms stalls.

const waiters: (() => void)[] = [];
let armed = false;

function runSlice(): void {
  const next = waiters.shift();
  // Armed again from inside the check phase: the next waiter runs in the next loop turn, after timers and I/O.
  if (waiters.length > 0) setImmediate(runSlice);
  else armed = false;
  next?.();
}

/** Resolves in a later event-loop turn, one waiter per turn across the whole process. */
export function nextSlice(): Promise<void> {
  return new Promise((resolve) => {
    waiters.push(resolve);
    if (!armed) {
      armed = true;
      setImmediate(runSlice);
    }
  });
}
