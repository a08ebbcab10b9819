#!/usr/bin/env node
/**
 * The install-time build (`npm run build`, run by `prepare` at `npm ci` and
 * `npm install`), into the ignored dist/:
 *  - dist/temporal-embedded.js: the embedded server's executable code, one
 *    CommonJS file (esbuild; node_modules stay external), so
 *    bin/temporal-embedded starts without compiling TypeScript;
 *  - dist/workflows/*.js: the workflow code bundled as the Temporal worker
 *    runs it (bundleWorkflowCode: webpack), plain and with the payload
 *    codec's failure converter, so `forlop start`/`serve`/`worker` do not
 *    bundle at every start.
 * Each output has a `.inputs.json` beside it listing the sources it was built
 * from; a reader uses the output only while none of them is newer
 * (temporal/prebuilt.ts), so an edited source is never run stale.
 */
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- plain CommonJS run by node itself (at install, and by bin/temporal-embedded before any TypeScript loader) */
const { mkdirSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');

function writeInputs(output, inputs) {
  const files = [...new Set(inputs.map((f) => path.relative(root, path.resolve(root, f))))].filter((f) => !f.startsWith('node_modules') && !f.startsWith('..')).sort();
  writeFileSync(`${output}.inputs.json`, JSON.stringify({ builtAt: Date.now(), files }, null, 1));
}

async function buildServer() {
  const esbuild = require('esbuild');
  const outfile = path.join(dist, 'temporal-embedded.js');
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['app/temporal-command.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  });
  writeInputs(outfile, Object.keys(result.metafile.inputs));
}

async function buildWorkflows() {
  const { bundleWorkflowCode } = require('@temporalio/worker');
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
  const variants = { plain: undefined, codec: path.join(root, 'temporal/codec/failure-converter.ts') };
  mkdirSync(path.join(dist, 'workflows'), { recursive: true });
  for (const [name, failureConverterPath] of Object.entries(variants)) {
    const { code } = await bundleWorkflowCode({ workflowsPath: path.join(root, 'workflows'), ...(failureConverterPath ? { failureConverterPath } : {}), logger: quiet });
    const outfile = path.join(dist, 'workflows', `${name}.js`);
    writeFileSync(outfile, code);
    // The inline source map names every module webpack took in: those are the inputs.
    const map = /sourceMappingURL=data:application\/json;[^,]*base64,([A-Za-z0-9+/=]+)/.exec(code);
    const sources = map ? JSON.parse(Buffer.from(map[1], 'base64').toString('utf8')).sources : [];
    const local = sources.map((s) => s.replace(/^webpack:\/\/[^/]*\//, '').replace(/\?.*$/, '')).filter((s) => /\.(ts|js|json)$/.test(s) && !s.includes('node_modules'));
    if (local.length === 0) throw new Error(`build: the workflow bundle ${name} has no source map listing its inputs; without it a stale bundle could not be detected`);
    writeInputs(outfile, [...local, 'package-lock.json']);
  }
}

async function main() {
  const started = Date.now();
  mkdirSync(dist, { recursive: true });
  await buildServer();
  await buildWorkflows();
  console.log(`forlop build: dist/ ready in ${Date.now() - started} ms`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
