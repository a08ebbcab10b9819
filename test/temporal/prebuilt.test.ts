/**
 * The install-time build's outputs are used only while fresh
 * (temporal/prebuilt.js): an edited source must send the caller back to
 * building at run time, never to stale code.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freshOutput } from '../../temporal/prebuilt';

const root = path.resolve(__dirname, '../..');
const name = `prebuilt-test-${process.pid}.js`;
const output = path.join(root, 'dist', name);
let sourceDir: string;
let source: string;

beforeEach(() => {
  mkdirSync(path.join(root, 'dist'), { recursive: true });
  sourceDir = mkdtempSync(path.join(tmpdir(), 'forlop-prebuilt-'));
  source = path.join(sourceDir, 'input.ts');
  writeFileSync(source, 'export {};\n');
  const past = new Date(Date.now() - 60_000);
  utimesSync(source, past, past);
  writeFileSync(output, 'module.exports = {};\n');
  writeFileSync(`${output}.inputs.json`, JSON.stringify({ builtAt: Date.now() - 1000, files: [path.relative(root, source)] }));
});

afterEach(() => {
  rmSync(output, { force: true });
  rmSync(`${output}.inputs.json`, { force: true });
  rmSync(sourceDir, { recursive: true, force: true });
});

it('gives the output while every input is older than the build', () => {
  expect(freshOutput(name)).toBe(output);
});

it('refuses the output once an input was changed after the build', () => {
  writeFileSync(source, 'export const edited = true;\n');
  expect(freshOutput(name)).toBeUndefined();
});

it('refuses the output when an input is gone or the manifest is missing', () => {
  rmSync(source);
  expect(freshOutput(name)).toBeUndefined();
  rmSync(`${output}.inputs.json`);
  expect(freshOutput(name)).toBeUndefined();
});
