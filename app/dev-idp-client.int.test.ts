/**
 * A request whose connection the server resets is sent once more, as a
 * keep-alive socket dropped by the server just as the client reuses it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onceMoreIfReset } from './dev-idp-client';

/** A server that resets the connection of the first `resets` requests, and answers the others. */
async function resettingServer(resets: number): Promise<{ url: string; requests: () => number; close: () => void }> {
  let seen = 0;
  const server: Server = createServer((req, res) => {
    if (seen++ < resets) req.socket.resetAndDestroy();
    else res.end('token');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, requests: () => seen, close: () => server.close() };
}

const post = (url: string) => fetch(url, { method: 'POST', body: 'grant_type=client_credentials' }).then((r) => r.text());

describe('onceMoreIfReset', () => {
  it('sends a request whose connection was reset once more', async () => {
    const server = await resettingServer(2);
    try {
      // Without it, the reset fails the request.
      await expect(post(server.url)).rejects.toThrow('fetch failed');
      await expect(onceMoreIfReset(() => post(server.url))).resolves.toBe('token');
      expect(server.requests()).toBe(3);
    } finally {
      server.close();
    }
  });

  it('gives up after the second reset, and never repeats other failures', async () => {
    const server = await resettingServer(5);
    try {
      await expect(onceMoreIfReset(() => post(server.url))).rejects.toThrow('fetch failed');
      expect(server.requests()).toBe(2);
    } finally {
      server.close();
    }
    let attempts = 0;
    await expect(onceMoreIfReset(async () => { attempts++; throw new Error('invalid_scope'); })).rejects.toThrow('invalid_scope');
    expect(attempts).toBe(1);
  });
});
