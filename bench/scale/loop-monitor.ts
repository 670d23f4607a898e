// bench/scale/: preloaded into the meshlet under test (`node --import …/loop-monitor.js`) — reports the event loop's
// worst delay every 100 ms on stderr as `MESHLET_LOOP {"t":…,"maxMs":…}` so the scale bench can see stalls during a
// config apply from outside the process. Does nothing unless MESHLET_LOOP_MONITOR=1.
import { monitorEventLoopDelay } from 'node:perf_hooks';

if (process.env.MESHLET_LOOP_MONITOR === '1') {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  setInterval(() => {
    const maxMs = h.max / 1e6;
    h.reset();
    // mono: the monotonic clock in µs, the one --cpu-prof timestamps use (profile-summary --window lines them up).
    const mono = Number(process.hrtime.bigint() / 1000n);
    process.stderr.write(`MESHLET_LOOP ${JSON.stringify({ t: Date.now(), mono, maxMs: Math.round(maxMs * 10) / 10, rssMb: Math.round(process.memoryUsage.rss() / 1048576) })}\n`);
  }, 100).unref();
}
