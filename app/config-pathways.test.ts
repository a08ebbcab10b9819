import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from './config';

it('takes FORLOP_PATHWAYS_DIR, and refuses one that is not a directory', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'forlop-pathways-'));
  expect(loadConfig({}, { FORLOP_PATHWAYS_DIR: dir }).pathwaysDir).toBe(dir);
  expect(() => loadConfig({}, { FORLOP_PATHWAYS_DIR: path.join(dir, 'missing') })).toThrow(ConfigError);
  expect(() => loadConfig({}, { FORLOP_PATHWAYS_DIR: path.join(dir, 'missing') })).toThrow(/FORLOP_PATHWAYS_DIR must name a directory of pathway definitions/);
});

it('uses ./pathways.local when it exists and nothing is configured', () => {
  const cwd = process.cwd();
  const dir = mkdtempSync(path.join(tmpdir(), 'forlop-cwd-'));
  try {
    process.chdir(dir);
    expect(loadConfig({}, {}).pathwaysDir).toBeUndefined();
    mkdirSync('pathways.local');
    expect(loadConfig({}, {}).pathwaysDir).toBe(path.join(process.cwd(), 'pathways.local'));
  } finally {
    process.chdir(cwd);
  }
});
