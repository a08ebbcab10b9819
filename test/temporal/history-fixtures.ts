/**
 * Representative histories recorded by the conformance suite are kept in
 * test/temporal/histories/ (binary protobuf, temporal.api.history.v1.History) and replayed by replay.int.test.ts, so a change to
 * the test workflows or the SDK that breaks old histories fails CI.
 * Set FORLOP_RECORD_HISTORIES=1 to re-record them.
 */
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';

export const HISTORY_DIR = path.join(__dirname, 'histories');
const RECORDED = ['greet', 'counter', 'retries', 'parent', 'can', 'timers', 'uws'];

export function saveHistoryFixture(workflowId: string, history: temporal.api.history.v1.IHistory): void {
  if (process.env.FORLOP_RECORD_HISTORIES !== '1') return;
  const name = workflowId.replace(/-[0-9a-f]{8}$/, '');
  if (!RECORDED.includes(name)) return;
  mkdirSync(HISTORY_DIR, { recursive: true });
  // One file per kind, named by the workflow id it ran under (replay needs the same id).
  for (const old of readdirSync(HISTORY_DIR)) if (old.replace(/-[0-9a-f]{8}\.binpb$/, '') === name) unlinkSync(path.join(HISTORY_DIR, old));
  // Binary protobuf: exact, and independent of JSON mapping quirks between protobufjs copies.
  const History = temporal.api.history.v1.History;
  writeFileSync(path.join(HISTORY_DIR, `${workflowId}.binpb`), History.encode(History.fromObject(history)).finish());
}

export function loadHistoryFixtures(): { workflowId: string; history: temporal.api.history.v1.History }[] {
  return readdirSync(HISTORY_DIR)
    .filter((f) => f.endsWith('.binpb'))
    .map((f) => ({ workflowId: path.basename(f, '.binpb'), history: temporal.api.history.v1.History.decode(readFileSync(path.join(HISTORY_DIR, f))) }));
}
