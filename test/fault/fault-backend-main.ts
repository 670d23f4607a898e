// test/fault: entry of a FaultBackend child process (argv: name, port); prints `port N` once listening. Spawned by
// BackendProcess so a fault test can SIGKILL a backend the way a crashed pod dies.
import { FaultBackend } from './fault-env.js';

const [name = 'backend', port = '0'] = process.argv.slice(2);
const b = await FaultBackend.start(name, Number(port));
process.stdout.write(`port ${b.port}\n`);
process.on('SIGTERM', () => void b.close().then(() => process.exit(0)));
