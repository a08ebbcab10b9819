/**
 * Remembers DPoP proof `jti` values for as long as a proof would be accepted
 * (RFC 9449 11.1), so a captured proof cannot be replayed. Bounded: when full,
 * the oldest entries go first. Entries expire after `ttlMs`, which must be at
 * least the proof acceptance window; a proof older than the window is refused
 * by its iat anyway, so forgetting its jti then is safe.
 *
 * In-process only: with several server instances behind a load balancer,
 * replace it with a shared store (same interface) or use DPoP nonces.
 */
export interface ReplayCache {
  /** Records the id; returns false when it was already seen (a replay). */
  checkAndRemember(id: string, nowMs: number): boolean;
}

export function createReplayCache(options: { ttlMs: number; maxEntries?: number }): ReplayCache {
  const maxEntries = options.maxEntries ?? 100_000;
  // A Map iterates in insertion order, and entries are inserted with increasing
  // expiry, so the first entries are the oldest.
  const expiries = new Map<string, number>();
  return {
    checkAndRemember(id, nowMs) {
      for (const [key, expiresAt] of expiries) {
        if (expiresAt > nowMs) break;
        expiries.delete(key);
      }
      const seen = expiries.get(id);
      if (seen !== undefined && seen > nowMs) return false;
      while (expiries.size >= maxEntries) expiries.delete(expiries.keys().next().value as string);
      expiries.set(id, nowMs + options.ttlMs);
      return true;
    },
  };
}
