/** The end-to-end tests' stack: app/in-process-stack.ts, with the SDK's logs kept to warnings. */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startInProcessStack, type InProcessStack } from '../../app/in-process-stack';

Runtime.install({ logger: new DefaultLogger('WARN') });

export type Stack = InProcessStack;
export const startStack = startInProcessStack;

/** Waits (real time) until the check gives a value: routing and deliveries run asynchronously. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
