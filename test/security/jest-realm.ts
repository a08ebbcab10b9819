/**
 * Jest runs each test file in a VM context with its own Object/Array, but
 * hands it Node's own `structuredClone`, whose results belong to the outer
 * realm. oidc-provider clones client metadata with structuredClone and then
 * checks `value.constructor === Object`, which fails across realms ("client
 * JSON Web Key Set is invalid"). Import this module before starting the dev
 * IdP in a Jest test; outside Jest nothing needs it.
 */
const outer = globalThis.structuredClone;

function sameRealmClone<T>(value: T): T {
  const cloned = outer(value);
  return rebuild(cloned) as T;
}

function rebuild(value: unknown): unknown {
  if (Array.isArray(value)) return Array.prototype.map.call(value, rebuild);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value)?.constructor?.name === 'Object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = rebuild(v);
    return out;
  }
  return value;
}

globalThis.structuredClone = sameRealmClone as typeof structuredClone;
export {};
