import * as jose from 'jose';
import * as client from 'openid-client';
import Provider from 'oidc-provider';

test('ESM-only dependencies load under Jest', async () => {
  const { publicKey } = await jose.generateKeyPair('ES256');
  expect(publicKey.type).toBe('public');
  expect(typeof client.discovery).toBe('function');
  expect(typeof Provider).toBe('function');
});
