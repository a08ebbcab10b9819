/**
 * Engine semantics that the real SDK worker does not let a test provoke on
 * demand: a worker that takes a task and goes silent (workflow task
 * timeout), a completion with stale token, sdk metadata kept in history.
 * The test plays the worker by calling the engine directly.
 */
import { Engine } from './engine';
import { enums } from './proto';

const ET = enums.EventType;

function startedEngine(workflowTaskTimeoutMs: number) {
  const engine = new Engine({ timeSkipping: false, namespaces: ['default'], searchAttributes: {} });
  const { exec } = engine.startWorkflow({
    namespace: 'default',
    workflowId: 'family-1',
    workflowType: { name: 'familyPathway' },
    taskQueue: { name: 'q' },
    workflowTaskTimeout: { seconds: 0, nanos: workflowTaskTimeoutMs * 1e6 },
    requestId: 'r1',
  });
  engine.kickOff(exec);
  return { engine, exec };
}

const claim = (engine: Engine, key: string, seq: number) => engine.claimWorkflowTask({ kind: 'workflow', key, seq }, 'test-worker');

describe('workflow tasks', () => {
  it('times out a task whose worker went silent and schedules a new attempt', async () => {
    const { engine, exec } = startedEngine(50);
    const task = claim(engine, exec.key, exec.wft.seq)!;
    expect(task.startedEventId).toBe(3);
    await new Promise((r) => setTimeout(r, 120));
    expect(exec.history.map((e) => e.eventType)).toEqual([
      ET.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
      ET.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      ET.EVENT_TYPE_WORKFLOW_TASK_STARTED,
      ET.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
      ET.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    ]);
    expect(exec.wft).toMatchObject({ state: 1, attempt: 2 });
    // The silent worker's late answer is refused.
    expect(() => engine.completeWorkflowTask({ taskToken: task.taskToken, commands: [] })).toThrow(/workflow task not found/);
    engine.stop();
  });

  it('keeps the sdk metadata of a completion in WorkflowTaskCompleted and sends only new events to the sticky queue', () => {
    const { engine, exec } = startedEngine(10_000);
    const task = claim(engine, exec.key, exec.wft.seq)!;
    engine.completeWorkflowTask({
      taskToken: task.taskToken,
      commands: [{ commandType: enums.CommandType.COMMAND_TYPE_START_TIMER, startTimerCommandAttributes: { timerId: '1', startToFireTimeout: { seconds: 60 } } }],
      sdkMetadata: { langUsedFlags: [1, 2] },
      stickyAttributes: { workerTaskQueue: { name: 'sticky-q' }, scheduleToStartTimeout: { seconds: 5 } },
    });
    expect(exec.history[3].workflowTaskCompletedEventAttributes.sdkMetadata).toEqual({ langUsedFlags: [1, 2] });
    engine.signal(exec, { signalName: 'dueDateChanged', input: undefined });
    expect(exec.wft).toMatchObject({ state: 1, queue: 'sticky-q', sticky: true });
    const next = claim(engine, exec.key, exec.wft.seq)!;
    expect(next.previousStartedEventId).toBe(3);
    expect(next.history.events.map((e: { eventId: number }) => e.eventId)).toEqual([4, 5, 6, 7, 8]);
    engine.stop();
  });

  it('holds back events that arrive while a task is with a worker and refuses to close over them', () => {
    const { engine, exec } = startedEngine(10_000);
    const task = claim(engine, exec.key, exec.wft.seq)!;
    engine.signal(exec, { signalName: 'birthRegistered' });
    expect(exec.buffered).toHaveLength(1);
    expect(() =>
      engine.completeWorkflowTask({ taskToken: task.taskToken, commands: [{ commandType: enums.CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION, completeWorkflowExecutionCommandAttributes: {} }] }),
    ).toThrow('UnhandledCommand');
    const types = exec.history.map((e) => e.eventType);
    expect(types.slice(3)).toEqual([ET.EVENT_TYPE_WORKFLOW_TASK_FAILED, ET.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, ET.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED]);
    expect(exec.status).toBe(enums.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING);
    engine.stop();
  });
});

describe('queries', () => {
  it('does not hand out a query task once a workflow task came along: the query rides on that task', async () => {
    const { engine, exec } = startedEngine(10_000);
    const first = claim(engine, exec.key, exec.wft.seq)!;
    engine.completeWorkflowTask({ taskToken: first.taskToken, commands: [] });
    // Idle: the query goes out as a query task ...
    const answer = engine.query(exec, { queryType: 'count' }, 0);
    const [queued] = [...engine.queries.values()];
    expect(queued.state).toBe('dispatched');
    // ... but a signal schedules a workflow task before any worker takes it.
    engine.signal(exec, { signalName: 'bump' });
    expect(engine.claimWorkflowTask({ kind: 'query', id: queued.id }, 'test-worker')).toBeUndefined();
    const task = claim(engine, exec.key, exec.wft.seq)!;
    expect(Object.keys(task.queries)).toEqual([queued.id]);
    engine.completeWorkflowTask({ taskToken: task.taskToken, commands: [], queryResults: { [queued.id]: { resultType: enums.QueryResultType.QUERY_RESULT_TYPE_ANSWERED, answer: { payloads: [] } } } });
    await expect(answer).resolves.toEqual({ queryResult: { payloads: [] } });
    engine.stop();
  });
});

describe('closed runs', () => {
  it('keep their history as bytes and give the same events back', async () => {
    const { engine, exec } = startedEngine(10_000);
    const task = claim(engine, exec.key, exec.wft.seq)!;
    engine.completeWorkflowTask({ taskToken: task.taskToken, commands: [{ commandType: enums.CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION, completeWorkflowExecutionCommandAttributes: { result: { payloads: [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"done"') }] } } }] });
    const before = exec.history.map((e) => ({ ...e }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(Object.getOwnPropertyDescriptor(exec, 'history')?.get).toBeDefined();
    expect(exec.history.map((e) => e.eventType)).toEqual(before.map((e) => e.eventType));
    expect(exec.history[4].workflowExecutionCompletedEventAttributes.result.payloads[0].data.toString()).toBe('"done"');
    engine.stop();
  });
});
