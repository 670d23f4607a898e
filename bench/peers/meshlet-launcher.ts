// Bench peer: starts meshlet from the same build directory as the harness (dist-*/src/main.js next to
// dist-*/bench/), so `node dist-X/bench/run.js` measures dist-X's meshlet without a --meshlet-bin shim.
// Usage: node meshlet-launcher.js -c <bootstrap> [meshlet flags…]
import { main } from '../../src/main.js';

void main(process.argv.slice(2));
