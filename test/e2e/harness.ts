/** The end-to-end tests' stack: app/in-process-stack.ts, with the SDK's logs kept to warnings. */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startInProcessStack, type InProcessStack } from '../../app/in-process-stack';

Runtime.install({ logger: new DefaultLogger('WARN') });

export type Stack = InProcessStack;
export const startStack = startInProcessStack;
