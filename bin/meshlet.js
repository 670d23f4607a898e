#!/usr/bin/env node
// meshlet executable: hands argv to the compiled entry point (built by `npm run build`, or by `npm ci` via prepare).
import { main } from '../dist/src/main.js';
main(process.argv.slice(2));
