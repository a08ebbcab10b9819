/**
 * Outputs of the install-time build (temporal/build.js) are used only while
 * they are fresh: every source listed in `<output>.inputs.json` is older than
 * the build. An edited (or newly checked out) source makes the caller fall
 * back to building at run time, so stale code never runs.
 */
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- plain CommonJS run by node itself (at install, and by bin/temporal-embedded before any TypeScript loader) */
const { readFileSync, statSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** The absolute path of a fresh dist/ output, or undefined when it is missing or older than a source. */
function freshOutput(relative) {
  const output = path.join(root, 'dist', relative);
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(`${output}.inputs.json`, 'utf8'));
    statSync(output);
  } catch {
    return undefined;
  }
  for (const file of manifest.files) {
    try {
      if (statSync(path.join(root, file)).mtimeMs > manifest.builtAt) return undefined;
    } catch {
      return undefined;
    }
  }
  return output;
}

module.exports = { freshOutput };
