/**
 * The dev IdP across a restart of `forlop start` (issue #21, item 6): its port
 * is fixed by default and its signing key kept in the data directory, so it is
 * the same issuer with the same key. A token fetched before the restart is
 * still accepted by the API's verifier afterwards, and once it has expired it
 * fails with a message saying exactly that.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createAccessTokenVerifier } from '../server/auth/access-token';
import { freePort } from '../test/support/processes';
import { DEFAULT_DEV_IDP_PORT, loadConfig } from './config';
import { DEV_API_AUDIENCE, DEV_API_RESOURCE, startDevIdp } from './dev-idp';
import { developmentSigningKey } from './dev-idp-key';

const tokenFrom = async (issuer: string) => {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('helsestasjon-secret:dev-secret-helsestasjon').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/Patient.rs', resource: DEV_API_RESOURCE }),
  });
  return ((await response.json()) as { access_token: string; expires_in: number }).access_token;
};

it('fixes the port by default', () => {
  expect(loadConfig({}, {}).auth.devIdpPort).toBe(DEFAULT_DEV_IDP_PORT);
  expect(loadConfig({}, { FORLOP_DEV_IDP_PORT: '0' }).auth.devIdpPort).toBe(0);
});

it('accepts a token from before a restart until it expires, then says it expired', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'forlop-idp-'));
  const port = await freePort();
  let idp = await startDevIdp({ port, signingKey: await developmentSigningKey(dataDir) });
  const issuer = idp.issuer;
  const token = await tokenFrom(issuer);
  await idp.stop();

  idp = await startDevIdp({ port, signingKey: await developmentSigningKey(dataDir) });
  try {
    expect(idp.issuer).toBe(issuer);
    const verifier = (now?: () => number) => createAccessTokenVerifier({ issuer, audience: DEV_API_AUDIENCE, jwks: { uri: idp.jwksUri }, verifiedTokenCache: false, ...(now ? { now } : {}) });
    await expect(verifier().verify(token)).resolves.toMatchObject({ claims: { iss: issuer } });
    // Six minutes on, past its five-minute lifetime.
    await expect(verifier(() => Date.now() + 6 * 60_000).verify(token)).rejects.toThrow('The access token has expired; get a new one from the issuer.');
  } finally {
    await idp.stop();
  }
});
