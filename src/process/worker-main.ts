// process/: entry script of a --concurrency worker (node:cluster runs it in every forked process). It takes the
// primary's parsed flags from the environment and runs `meshlet run` with them; startProxy() sees
// cluster.isWorker and builds only a data plane that the primary feeds over IPC.
import { runServe } from '../cli/run.js';
import { processIo } from '../cli/cli-io.js';
import type { CliFlags } from '../cli/parse-args.js';
import { WORKER_FLAGS_ENV } from './worker-flags.js';

const text = process.env[WORKER_FLAGS_ENV];
if (!text) {
  process.stderr.write(`meshlet worker: ${WORKER_FLAGS_ENV} is not set (workers are started by the primary)\n`);
  process.exit(2);
}
const flags = JSON.parse(text) as CliFlags;
void runServe({ ...flags, adminAddressPath: undefined }, processIo()).then((code) => {
  if (code !== 0) process.exit(code);
});
