/**
 * Recorded histories (test/temporal/histories/*.binpb, recorded from the
 * embedded server by the conformance suite) replay against today's workflow
 * code without nondeterminism.
 */
import { Worker } from '@temporalio/worker';
import { loadHistoryFixtures } from './history-fixtures';

it('replays every recorded history', async () => {
  const histories = loadHistoryFixtures();
  expect(histories.length).toBeGreaterThanOrEqual(5);
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowsPath: require.resolve('./workflows'), replayName: 'recorded' }, histories)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
});
