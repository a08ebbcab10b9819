/**
 * Workflow timers (StartTimer / CancelTimer commands; TimerStarted, TimerFired,
 * TimerCanceled events). Owns `exec.timers` and their clock entries.
 */
import type { Core, Machine } from '../core';
import type { Execution } from '../model';
import { durationMs, enums, type Msg } from '../proto';

const ET = enums.EventType;
const WS = enums.WorkflowExecutionStatus;

export class Timers implements Machine {
  constructor(private readonly core: Core) {}

  start(exec: Execution, completedId: number, a: Msg): void {
    const ev = this.core.appendEvent(exec, ET.EVENT_TYPE_TIMER_STARTED, 'timerStartedEventAttributes', {
      timerId: a.timerId,
      startToFireTimeout: a.startToFireTimeout,
      workflowTaskCompletedEventId: completedId,
    });
    const fireAt = this.core.clock.now() + durationMs(a.startToFireTimeout);
    exec.timers[a.timerId] = { startedEventId: ev.eventId, fireAt };
    this.arm(exec, a.timerId);
  }

  cancel(exec: Execution, completedId: number, timerId: string): void {
    const timer = exec.timers[timerId];
    if (!timer) return;
    delete exec.timers[timerId];
    this.core.cancelScheduled(`timer/${exec.key}/${timerId}`);
    this.core.appendEvent(exec, ET.EVENT_TYPE_TIMER_CANCELED, 'timerCanceledEventAttributes', {
      timerId,
      startedEventId: timer.startedEventId,
      workflowTaskCompletedEventId: completedId,
      identity: 'forlop-embedded-temporal',
    });
  }

  private arm(exec: Execution, timerId: string): void {
    const timer = exec.timers[timerId];
    this.core.schedule(`timer/${exec.key}/${timerId}`, timer.fireAt, () => {
      if (!exec.timers[timerId] || exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return;
      delete exec.timers[timerId];
      this.core.addEvent(exec, ET.EVENT_TYPE_TIMER_FIRED, 'timerFiredEventAttributes', { timerId, startedEventId: timer.startedEventId });
      this.core.scheduleWorkflowTask(exec);
    });
  }

  rearm(exec: Execution): void {
    for (const timerId of Object.keys(exec.timers)) this.arm(exec, timerId);
  }

  close(exec: Execution): void {
    for (const timerId of Object.keys(exec.timers)) this.core.cancelScheduled(`timer/${exec.key}/${timerId}`);
  }
}
