#!/usr/bin/env node
'use strict';
// Entry point: the compiled CLI (npm run build produces dist/).
const path = require('node:path');

// Where Node can re-execute itself (same pid), `run` and `record` start again
// with the flags below, before doing anything:
// - Node starts a thread that blocks every signal and waits for SIGUSR1 to
//   open the inspector. The agent drops its capabilities thread by thread
//   through a signal, so that thread would keep them: --disable-sigusr1.
// - V8 lets its young generation grow to 16 MiB per semi-space on Node 20 and
//   more on Node 24, and keeps it: through the churn soak the agent's RSS was
//   307 MiB on Node 24 (212 MiB at 8 MiB), 118-142 MiB on Node 20 (108-122),
//   at no agent CPU measurable under wrk. A value the user gives wins.
const reexec = [];
if (process.allowedNodeEnvironmentFlags.has('--disable-sigusr1') && !process.execArgv.includes('--disable-sigusr1')) {
  reexec.push('--disable-sigusr1');
}
const semiSpaceSet = (flags) => /--max[-_]semi[-_]space[-_]size\b/.test(flags);
if (!semiSpaceSet(process.execArgv.join(' ')) && !semiSpaceSet(process.env.NODE_OPTIONS || '')) {
  reexec.push('--max-semi-space-size=8');
}
if ((process.argv[2] === 'run' || process.argv[2] === 'record') && typeof process.execve === 'function' && reexec.length > 0) {
  process.execve(process.execPath, [process.execPath, ...reexec, ...process.execArgv, ...process.argv.slice(1)], process.env);
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
