#!/usr/bin/env node
// The `forlop` command. Sources are TypeScript, compiled on load by tsx.
'use strict';
require('tsx/cjs/api').register();

const { main } = require('../app/cli.ts');
main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.stack || err.message : err);
    process.exitCode = 1;
  },
);
