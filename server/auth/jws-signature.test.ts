import { generateKeyPairSync, sign } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { importPublicKey, verifyCompactJws } from './jws-signature';

async function signed(alg: string, options: Record<string, unknown> = {}) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...options });
  const jwk = await exportJWK(publicKey);
  const jws = await new SignJWT({ htm: 'GET' }).setProtectedHeader({ alg, typ: 'dpop+jwt', jwk }).sign(privateKey);
  return { jwk, jws };
}

describe('verifyCompactJws (node:crypto) agrees with jose-signed proofs', () => {
  it.each(['ES256', 'ES384', 'ES512', 'PS256', 'RS256', 'EdDSA', 'Ed25519'])('%s: accepts a good signature, refuses a changed payload', async (alg) => {
    const { jwk, jws } = await signed(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
    const key = importPublicKey(jwk, alg);
    await expect(verifyCompactJws(jws, key, alg)).resolves.toEqual({ htm: 'GET' });
    const [h, , s] = jws.split('.');
    const forged = `${h}.${Buffer.from('{"htm":"POST"}').toString('base64url')}.${s}`;
    await expect(verifyCompactJws(forged, key, alg)).rejects.toThrow('The signature does not verify.');
  });
});

describe('importPublicKey', () => {
  let ec: JWK;
  beforeAll(async () => {
    ec = (await signed('ES256')).jwk;
  });

  it('refuses a key that does not fit the algorithm', () => {
    expect(() => importPublicKey(ec, 'RS256')).toThrow('Algorithm RS256 needs a RSA key, the jwk is EC.');
    expect(() => importPublicKey(ec, 'ES384')).toThrow('Algorithm ES384 needs curve P-384, the jwk has P-256.');
    expect(() => importPublicKey(ec, 'HS256')).toThrow('Algorithm HS256 is not supported.');
    // Ed25519 names the curve (RFC 9864); EdDSA allows Ed448 too.
    const ed448 = generateKeyPairSync('ed448').publicKey.export({ format: 'jwk' }) as JWK;
    expect(() => importPublicKey(ed448, 'Ed25519')).toThrow('Algorithm Ed25519 needs curve Ed25519, the jwk has Ed448.');
    expect(importPublicKey(ed448, 'EdDSA').asymmetricKeyType).toBe('ed448');
  });

  it('refuses private keys and short RSA keys', () => {
    expect(() => importPublicKey({ ...ec, d: 'secret' }, 'ES256')).toThrow('The jwk must be a public key.');
    // jose will not even make such a key; Node will.
    const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }) as JWK;
    expect(() => importPublicKey(short, 'RS256')).toThrow('RSA keys must be at least 2048 bits.');
  });

  it('refuses crit extensions and a header alg that differs from the checked one', async () => {
    // jose refuses to sign unknown crit extensions, so sign by hand.
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = importPublicKey(pair.publicKey.export({ format: 'jwk' }) as JWK, 'ES256');
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const compact = (header: object) => {
      const input = `${encode(header)}.${encode({ htm: 'GET' })}`;
      return `${input}.${sign('sha256', Buffer.from(input), { key: pair.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    };
    await expect(verifyCompactJws(compact({ alg: 'ES256' }), key, 'ES256')).resolves.toEqual({ htm: 'GET' });
    await expect(verifyCompactJws(compact({ alg: 'ES256', crit: ['x'], x: 1 }), key, 'ES256')).rejects.toThrow('JWS extensions (crit, b64) are not accepted.');
    await expect(verifyCompactJws(compact({ alg: 'ES256' }), key, 'ES384')).rejects.toThrow('The header alg changed between checks.');
  });
});
