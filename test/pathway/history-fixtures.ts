/**
 * Recorded histories of the family pathway workflow (every run of a
 * scenario's continue-as-new chain), kept in test/pathway/histories/ as
 * binary protobuf and replayed by replay.int.test.ts: a workflow change that
 * would break families already running fails CI. Re-record deliberately with
 * FORLOP_RECORD_HISTORIES=1 (and say why in the commit).
 */
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';

export const PATHWAY_HISTORY_DIR = path.join(__dirname, 'histories');

export function savePathwayHistories(scenario: string, runs: { workflowId: string; history: temporal.api.history.v1.IHistory }[]): void {
  if (process.env.FORLOP_RECORD_HISTORIES !== '1') return;
  mkdirSync(PATHWAY_HISTORY_DIR, { recursive: true });
  for (const old of readdirSync(PATHWAY_HISTORY_DIR)) if (old.startsWith(`${scenario}--`)) unlinkSync(path.join(PATHWAY_HISTORY_DIR, old));
  const History = temporal.api.history.v1.History;
  runs.forEach(({ workflowId, history }, i) => {
    writeFileSync(path.join(PATHWAY_HISTORY_DIR, `${scenario}--${workflowId}--${i + 1}.binpb`), History.encode(History.fromObject(history)).finish());
  });
}

export function loadPathwayHistories(): { name: string; workflowId: string; history: temporal.api.history.v1.History }[] {
  return readdirSync(PATHWAY_HISTORY_DIR)
    .filter((f) => f.endsWith('.binpb'))
    .sort()
    .map((f) => ({ name: f, workflowId: f.split('--')[1], history: temporal.api.history.v1.History.decode(readFileSync(path.join(PATHWAY_HISTORY_DIR, f))) }));
}
