/**
 * Definitions published over FHIR (active PlanDefinitions in the store),
 * taken into a process's registry without a restart: read at start, again
 * at once on a write in this process, on a poll for writes by other
 * processes (`serve` publishes, `worker` runs), and on a lookup of a
 * definition not known yet. A lookup of an unknown definition fails for now
 * and its caller retries (an activity's retry, the event router's next
 * pass), so a family enrolled on a definition a process has not read yet
 * waits and does not fail. Versions accumulate: a family pinned to 1.0.0
 * keeps it after 1.1.0 is published.
 */
import type { PlanDefinition } from '@medplum/fhirtypes';
import { importPlanDefinition } from './import-plan-definition';
import { canonicalOf } from './merge';
import type { Plan } from './plan';
import { DefinitionError, formatProblem } from './problems';
import type { DefinitionRegistry } from './registry';
import { parseSourceText } from './source-file';

export interface DefinitionStore {
  search(resourceType: string, params: Record<string, string>): Promise<{ resources: unknown[] }>;
  onChange(listener: (resourceType: string) => void): () => void;
}

export class PublishedDefinitions {
  private refreshing?: Promise<string[]>;
  private again = false;
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private readonly seen = new Map<string, string>();
  private stopped = false;

  constructor(
    private readonly store: DefinitionStore,
    readonly registry: DefinitionRegistry,
    private readonly log: (msg: string, fields?: object) => void = () => {},
  ) {}

  /** Reads the active PlanDefinitions and adds those not known yet; returns the url|version of each added. */
  refresh(): Promise<string[]> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = this.read().finally(() => {
      this.refreshing = undefined;
      if (this.again) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.refreshing;
  }

  private async read(): Promise<string[]> {
    const added: string[] = [];
    const { resources } = await this.store.search('PlanDefinition', { status: 'active', _count: '1000' });
    for (const pd of resources as PlanDefinition[]) {
      const key = `PlanDefinition/${pd.id}`;
      if (this.seen.get(key) === pd.meta?.versionId) continue;
      this.seen.set(key, pd.meta?.versionId ?? '');
      try {
        const source = parseSourceText(JSON.stringify(importPlanDefinition(pd)), key);
        const canonical = canonicalOf(source.document);
        // A published url|version never changes; the write check refuses other content under it.
        if (this.registry.sourceOf(canonical)) continue;
        this.registry.copy().add(source).resolve(source);
        this.registry.add(source);
        added.push(canonical);
      } catch (error) {
        // Written before the check existed, or straight into the database: named, not run.
        const problems = error instanceof DefinitionError ? error.problems.map(formatProblem) : [(error as Error).message];
        this.log('published PlanDefinition not taken', { resource: key, problems });
      }
    }
    if (added.length) this.log('published pathway definitions taken', { definitions: added });
    return added;
  }

  /** Follows the store until stop(): at once on writes in this process, every `intervalMs` for other processes. */
  async start(intervalMs = 2000): Promise<void> {
    await this.refresh();
    this.unsubscribe = this.store.onChange((type) => {
      if (type === 'PlanDefinition') void this.refresh();
    });
    const tick = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => void this.refresh().catch((error: Error) => this.log('published definitions not read', { error: error.message })).finally(tick), intervalMs);
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.refreshing;
  }

  /** The plan lookup the worker and the router use: a miss reads the store again before the caller retries. */
  plans(): { plan(canonicalOrName: string): Plan } {
    return {
      plan: (canonicalOrName) => {
        try {
          return this.registry.plan(canonicalOrName);
        } catch (error) {
          void this.refresh().catch(() => undefined);
          throw new Error(`${(error as Error).message}. If it was just published, it is read within seconds and the family waits until then (this call is retried).`, { cause: error });
        }
      },
    };
  }
}
