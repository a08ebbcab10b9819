/**
 * The organisation hierarchy (Organization.partOf) from the Organization
 * resources in the FHIR store, for the coordinator role: a coordinator's
 * organisation spans its units (a kommune's helsestasjon), so a family managed
 * by `Organization/sarpsborg-helsestasjon` is visible to Sarpsborg kommune's
 * coordinator (organisation-access.ts, actsFor).
 *
 * Cached: the access checks ask for a parent synchronously, many times a
 * request. The cache is dropped on every Organization write this process makes
 * (FhirStore.onChange: Organizations are written through the API, which runs
 * here) and reloaded at the latest after `maxAgeMs`, which bounds how long a
 * write made by another process (another `forlop serve`) goes unseen.
 */
import type { Organization } from '@medplum/fhirtypes';
import type { FhirStore } from '../../fhir/store';

export interface OrganisationHierarchyOptions {
  /** Longest time a loaded hierarchy is used without reloading; default 60 s. */
  maxAgeMs?: number;
  now?: () => number;
}

export class OrganisationHierarchy {
  private parents = new Map<string, string>();
  private loadedAt = -Infinity;
  private loading?: Promise<void>;
  /** Bumped by each write: a load that began before one is not trusted after it. */
  private writes = 0;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: FhirStore,
    private readonly options: OrganisationHierarchyOptions = {},
  ) {
    this.unsubscribe = store.onChange((type) => {
      if (type !== 'Organization') return;
      this.writes++;
      this.loadedAt = -Infinity;
    });
  }

  /** Loads the hierarchy if it is stale; call before the synchronous parentOf. */
  async current(): Promise<(organisation: string) => string | undefined> {
    const now = this.options.now?.() ?? Date.now();
    if (now - this.loadedAt > (this.options.maxAgeMs ?? 60_000)) await (this.loading ??= this.load().finally(() => (this.loading = undefined)));
    const parents = this.parents;
    return (organisation) => parents.get(organisation);
  }

  /** Every organisation below `organisation` (its units, their units...), for the store's search scope. */
  async unitsOf(organisation: string): Promise<string[]> {
    await this.current();
    const units: string[] = [];
    for (const [child] of this.parents) {
      const seen = new Set<string>();
      for (let up = this.parents.get(child); up && !seen.has(up); up = this.parents.get(up)) {
        seen.add(up);
        if (up === organisation) {
          units.push(child);
          break;
        }
      }
    }
    return units;
  }

  close(): void {
    this.unsubscribe();
  }

  private async load(): Promise<void> {
    const writes = this.writes;
    const startedAt = this.options.now?.() ?? Date.now();
    const parents = new Map<string, string>();
    for (let offset = 0; ; ) {
      const page = await this.store.search('Organization', { _count: '1000', _offset: String(offset) });
      for (const org of page.resources as Organization[]) {
        const parent = org.partOf?.reference;
        if (org.id && parent?.startsWith('Organization/')) parents.set(`Organization/${org.id}`, parent.replace(/\/_history\/.*$/, ''));
      }
      if (page.resources.length < 1000) break;
      offset += page.resources.length;
    }
    this.parents = parents;
    // A write during the load may be missing from it: use it for this request, reload for the next.
    this.loadedAt = writes === this.writes ? startedAt : -Infinity;
  }
}
