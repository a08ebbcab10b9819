import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createAccessTokenVerifier, InvalidTokenError } from './access-token';

let privateKey: CryptoKey;
let publicJwk: JWK;
beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  privateKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' };
});

const T0 = 1_800_000_000_000;
const sign = (claims: Record<string, unknown>, expSeconds = T0 / 1000 + 300) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' }).setIssuer('https://issuer').setAudience('forlop-api').setIssuedAt(T0 / 1000).setExpirationTime(expSeconds).sign(privateKey);

describe('createAccessTokenVerifier', () => {
  it('verifies against a local JWKS and reports the DPoP binding', async () => {
    let now = T0;
    const verifier = createAccessTokenVerifier({ issuer: 'https://issuer', audience: 'forlop-api', jwks: { keys: { keys: [publicJwk] } }, typ: 'at+jwt', now: () => now });
    const token = await sign({ client_id: 'c', cnf: { jkt: 'thumb' } });
    expect((await verifier.verify(token)).jkt).toBe('thumb');
    // A cached verification still expires with the token.
    now = T0 + 306_000;
    await expect(verifier.verify(token)).rejects.toThrow(new InvalidTokenError('The access token has expired; get a new one from the issuer.'));
  });

  it('re-verifies after the cache age, and not at all with the cache off', async () => {
    let now = T0;
    const options = { issuer: 'https://issuer', audience: 'forlop-api', jwks: { keys: { keys: [publicJwk] } }, now: () => now };
    const token = await sign({ client_id: 'c' }, T0 / 1000 + 3600);
    const cached = createAccessTokenVerifier({ ...options, verifiedTokenCache: { maxAgeSeconds: 60 } });
    const first = await cached.verify(token);
    expect(await cached.verify(token)).toBe(first);
    now = T0 + 61_000;
    expect(await cached.verify(token)).not.toBe(first);
    const uncached = createAccessTokenVerifier({ ...options, verifiedTokenCache: false });
    expect(await uncached.verify(token)).not.toBe(await uncached.verify(token));
  });

  it('refuses symmetric and none algorithms in its configuration', () => {
    const base = { issuer: 'i', audience: 'a', jwks: { keys: { keys: [] } } };
    expect(() => createAccessTokenVerifier({ ...base, algorithms: ['HS256', 'none'] })).toThrow(
      "Access token algorithms HS256, none are not allowed: use asymmetric algorithms verified against the issuer's JWKS.",
    );
  });
});
