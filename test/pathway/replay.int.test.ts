/**
 * Recorded histories of family pathways (test/pathway/histories/, recorded by
 * family-pathway.int.test.ts) replay against today's workflow code without
 * nondeterminism. A change that reorders the workflow's commands must use
 * patching (workflow.patched) to pass this test, so running families keep
 * working.
 */
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { workflowBundle } from '../../temporal/worker';
import { loadPathwayHistories } from './history-fixtures';

Runtime.install({ logger: new DefaultLogger('WARN') });
jest.setTimeout(120_000);

it('replays every recorded family pathway history', async () => {
  const histories = loadPathwayHistories();
  // Whole course (several runs), premature birth, pregnancy ended, missed contact, EPDS, Sarpsborg, a handoff (before and after return handoffs), pakkeforløp milestones, a referral in held and released on its legal basis, a family moved to a new version of its definition.
  expect(new Set(histories.map((h) => h.name.split('--')[0])).size).toBeGreaterThanOrEqual(10);
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle(), replayName: 'pathway-fixtures' }, histories)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
});
