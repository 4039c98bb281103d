#!/usr/bin/env node
'use strict';
// Entry point: the compiled CLI (npm run build produces dist/).
const path = require('node:path');

// Node starts a thread that blocks every signal and waits for SIGUSR1 to open
// the inspector. The agent drops its capabilities thread by thread through a
// signal, so that thread would keep them: where Node can run without it, the
// agent re-executes itself that way (same pid) before doing anything.
if (
  (process.argv[2] === 'run' || process.argv[2] === 'record') &&
  typeof process.execve === 'function' &&
  process.allowedNodeEnvironmentFlags.has('--disable-sigusr1') &&
  !process.execArgv.includes('--disable-sigusr1')
) {
  process.execve(process.execPath, [process.execPath, '--disable-sigusr1', ...process.execArgv, ...process.argv.slice(1)], process.env);
}

let cli;
try {
  cli = require(path.join(__dirname, '..', 'dist', 'src', 'cli.js'));
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND') {
    process.stderr.write('sidelight: not built yet; run: npm run build\n');
    process.exit(2);
  }
  throw err;
}
cli.main(process.argv);
