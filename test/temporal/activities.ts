// Activities for the embedded-server conformance tests.
import { Context, ApplicationFailure } from '@temporalio/activity';

const attempts = new Map<string, number>();

export async function greet(name: string): Promise<string> {
  return `Hello, ${name}!`;
}

/** Fails until the given attempt, then succeeds; reports the attempt it succeeded on. */
export async function flaky(key: string, succeedOn: number): Promise<number> {
  const attempt = Context.current().info.attempt;
  attempts.set(key, attempt);
  if (attempt < succeedOn) throw new Error(`attempt ${attempt} fails`);
  return attempt;
}

export async function failNonRetryable(): Promise<void> {
  throw ApplicationFailure.nonRetryable('this cannot work', 'BadInput');
}

export async function failWithType(type: string): Promise<void> {
  throw ApplicationFailure.create({ message: 'typed failure', type });
}

/** Heartbeats its progress; on a retry resumes from the last heartbeat's details. */
export async function heartbeating(steps: number, stallOnFirstAttempt: boolean): Promise<{ resumedFrom: number; attempt: number }> {
  const ctx = Context.current();
  const resumedFrom = (ctx.info.heartbeatDetails as number | undefined) ?? 0;
  for (let i = resumedFrom; i < steps; i++) {
    ctx.heartbeat(i + 1);
    if (stallOnFirstAttempt && ctx.info.attempt === 1 && i === 1) {
      await new Promise((r) => setTimeout(r, 3000)); // misses its 500ms heartbeat timeout
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { resumedFrom, attempt: ctx.info.attempt };
}

/** Heartbeats until it is cancelled, then reports the cancellation (RespondActivityTaskCanceled). */
export async function waitForCancel(): Promise<string> {
  const ctx = Context.current();
  for (;;) {
    ctx.heartbeat();
    await ctx.sleep(50);
  }
}

export async function slow(ms: number): Promise<string> {
  await new Promise((r) => setTimeout(r, ms));
  return 'slow done';
}

export async function localEcho(value: string): Promise<string> {
  return `local:${value}`;
}

export function attemptsOf(key: string): number | undefined {
  return attempts.get(key);
}
