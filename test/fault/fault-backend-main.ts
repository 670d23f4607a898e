// test/fault: entry of a FaultBackend child process (argv: name, port, host); prints `port N` once listening. Spawned by
// BackendProcess so a fault test can SIGKILL a backend the way a crashed pod dies.
import { FaultBackend } from './fault-env.js';

const [name = 'backend', port = '0', host = '127.0.0.1'] = process.argv.slice(2);
const b = await FaultBackend.start(name, Number(port), host);
process.stdout.write(`port ${b.port}\n`);
process.on('SIGTERM', () => void b.close().then(() => process.exit(0)));
