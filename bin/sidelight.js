#!/usr/bin/env node
'use strict';
// Entry point: the compiled CLI (npm run build produces dist/).
const path = require('node:path');
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
