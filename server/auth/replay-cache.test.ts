import { createReplayCache } from './replay-cache';

describe('createReplayCache', () => {
  it('refuses an id seen within the ttl and accepts it after', () => {
    const cache = createReplayCache({ ttlMs: 1000 });
    expect(cache.checkAndRemember('a', 0)).toBe(true);
    expect(cache.checkAndRemember('a', 999)).toBe(false);
    expect(cache.checkAndRemember('a', 1000)).toBe(true);
  });

  it('stays within its bound by dropping the oldest ids', () => {
    const cache = createReplayCache({ ttlMs: 1000, maxEntries: 2 });
    cache.checkAndRemember('a', 0);
    cache.checkAndRemember('b', 1);
    cache.checkAndRemember('c', 2);
    expect(cache.checkAndRemember('c', 3)).toBe(false);
    expect(cache.checkAndRemember('b', 3)).toBe(false);
    expect(cache.checkAndRemember('a', 3)).toBe(true);
  });
});
