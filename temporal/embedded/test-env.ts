/**
 * A ready test environment on the embedded server, in this process: the
 * same object @temporalio/testing's TestWorkflowEnvironment gives
 * (`client`, `nativeConnection`, `sleep`, `currentTimeMs`, `teardown`),
 * with time skipping by default. The SDK's own environment spawns a
 * downloaded binary; this one needs nothing from the network.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ClientOptions } from '@temporalio/client';
import { startEmbeddedTemporal, type EmbeddedTemporal, type EmbeddedTemporalOptions } from './index';

export interface TestEnvironmentOptions extends Omit<EmbeddedTemporalOptions, 'port' | 'host'> {
  /** Default true, as TestWorkflowEnvironment.createTimeSkipping. */
  timeSkipping?: boolean;
  client?: Partial<Pick<ClientOptions, 'dataConverter' | 'interceptors'>>;
}

export type EmbeddedTestEnvironment = TestWorkflowEnvironment & { embedded: EmbeddedTemporal };

interface CreateOptions {
  server: { type: 'existing' };
  address: string;
  namespace: string;
  supportsTimeSkipping: boolean;
  client?: TestEnvironmentOptions['client'];
}

export async function createTestEnvironment(options: TestEnvironmentOptions = {}): Promise<EmbeddedTestEnvironment> {
  const timeSkipping = options.timeSkipping ?? true;
  const server = await startEmbeddedTemporal({ ...options, timeSkipping });
  try {
    // TestWorkflowEnvironment.create is the SDK's own factory behind createTimeSkipping/createLocal;
    // pointed at an existing address it connects instead of spawning a binary.
    const create = (TestWorkflowEnvironment as unknown as { create(o: CreateOptions): Promise<TestWorkflowEnvironment> }).create.bind(TestWorkflowEnvironment);
    const env = await create({ server: { type: 'existing' }, address: server.address, namespace: (options.namespaces ?? ['default'])[0], supportsTimeSkipping: timeSkipping, client: options.client });
    // Nothing for the SDK to shut down: the server is ours.
    Object.defineProperty(env, 'server', { value: 'existing', configurable: true });
    const teardown = env.teardown.bind(env);
    return Object.assign(env, {
      embedded: server,
      async teardown() {
        await teardown();
        await server.stop();
      },
    });
  } catch (error) {
    await server.stop();
    throw error;
  }
}
