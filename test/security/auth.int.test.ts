/**
 * Authentication against a real OpenID provider (the dev IdP, oidc-provider)
 * started in-process: each refusal asserted with its status and challenge.
 */
import { decodeJwt, UnsecuredJWT } from 'jose';
import { DEV_OTHER_RESOURCE, type DevIdp } from '../../app/dev-idp';
import { getToken, makeProof, newDpopKey, startDevIdp, startTestApi, type DpopKey, type TestApi } from './harness';

let idp: DevIdp;
let api: TestApi;
let dpopApi: TestApi;
let key: DpopKey;
let bearerToken: string;
let dpopToken: string;

beforeAll(async () => {
  idp = await startDevIdp();
  api = await startTestApi(idp);
  dpopApi = await startTestApi(idp, { dpop: { required: true } });
  key = await newDpopKey();
  bearerToken = await getToken(idp, 'helsestasjon', 'system/Task.rs system/Encounter.cru');
  dpopToken = await getToken(idp, 'helsestasjon', 'system/Task.rs', { dpop: key });
});

afterAll(async () => {
  await api?.stop();
  await dpopApi?.stop();
  await idp?.stop();
});

const taskUrl = (base: TestApi) => `${base.url}/fhir/Task/t1`;
const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function expectRefused(response: Response, status: number, challenge: RegExp, diagnostics: RegExp) {
  expect(response.status).toBe(status);
  expect(response.headers.get('www-authenticate')).toMatch(challenge);
  const body = (await response.json()) as { resourceType: string; issue: { diagnostics: string }[] };
  expect(body.resourceType).toBe('OperationOutcome');
  expect(body.issue[0].diagnostics).toMatch(diagnostics);
}

describe('valid tokens', () => {
  it('accepts a Bearer token and sets req.forlop from its claims', async () => {
    const response = await get(taskUrl(api), bearer(bearerToken));
    expect(response.status).toBe(200);
    const { forlop } = (await response.json()) as { forlop: Record<string, unknown> };
    expect(forlop).toMatchObject({
      clientId: 'helsestasjon',
      organisation: { orgnr: '910000020', reference: 'Organization/sarpsborg-helsestasjon', parent: { orgnr: '910000012', reference: 'Organization/sarpsborg-kommune' } },
      scopeStrings: ['system/Task.rs', 'system/Encounter.cru'],
      role: 'system',
      tokenType: 'Bearer',
    });
    expect(forlop.user).toBeUndefined();
  });

  it('accepts a DPoP-bound token with a correct proof', async () => {
    const proof = await makeProof(key, { htm: 'GET', htu: taskUrl(dpopApi), accessToken: dpopToken });
    const response = await get(`${taskUrl(dpopApi)}?_format=json`, { authorization: `DPoP ${dpopToken}`, dpop: proof });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { forlop: Record<string, unknown> }).forlop.tokenType).toBe('DPoP');
  });

  // HelseID clients have RSA keys (HelseID's example proof is RS512); FAPI 2.0 allows PS256 of the RSA ones.
  // openid-client signs an Ed25519 key's proofs as "Ed25519" (RFC 9864), the IdP's token request included.
  it.each(['PS256', 'RS512', 'Ed25519'] as const)('binds a token to a %s key at the IdP and accepts its proofs', async (alg) => {
    const clientKey = await newDpopKey(alg);
    const token = await getToken(idp, 'helsestasjon', 'system/Task.rs', { dpop: clientKey });
    expect(decodeJwt(token).cnf).toEqual({ jkt: clientKey.jkt });
    const proof = await makeProof(clientKey, { htm: 'GET', htu: taskUrl(dpopApi), accessToken: token });
    const response = await get(taskUrl(dpopApi), { authorization: `DPoP ${token}`, dpop: proof });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { forlop: Record<string, unknown> }).forlop.tokenType).toBe('DPoP');
  });

  it('gives the coordinator its role', async () => {
    const token = await getToken(idp, 'koordinator', 'system/Task.rs');
    const response = await get(taskUrl(api), bearer(token));
    expect(((await response.json()) as { forlop: Record<string, unknown> }).forlop).toMatchObject({ role: 'coordinator', organisation: { orgnr: '910000012', reference: 'Organization/sarpsborg-kommune' } });
  });
});

describe('refused tokens', () => {
  it('missing token -> 401 with challenges and no error code', async () => {
    const response = await get(taskUrl(api));
    await expectRefused(response, 401, /^Bearer realm="forlop", DPoP realm="forlop", algs="ES256/, /needs an access token/);
    expect(response.headers.get('www-authenticate')).not.toContain('error=');
  });

  it('malformed Authorization header -> 401 invalid_request', async () => {
    await expectRefused(await get(taskUrl(api), { authorization: 'Basic abc' }), 401, /error="invalid_request"/, /must be "Bearer <token>"/);
  });

  it('expired -> 401 invalid_token', async () => {
    const later = await startTestApi(idp, { now: () => Date.now() + 3600_000 });
    try {
      await expectRefused(await get(taskUrl(later), bearer(bearerToken)), 401, /^Bearer realm="forlop", error="invalid_token"/, /has expired/);
    } finally {
      await later.stop();
    }
  });

  it('wrong audience -> 401 invalid_token', async () => {
    const other = await getToken(idp, 'helsestasjon', 'system/Task.rs', { resource: DEV_OTHER_RESOURCE });
    expect(decodeJwt(other).aud).toBe('other-api');
    await expectRefused(await get(taskUrl(api), bearer(other)), 401, /error="invalid_token"/, /wrong audience/);
  });

  it('wrong issuer -> 401 invalid_token', async () => {
    const strict = await startTestApi(idp, { issuer: 'https://helseid-sts.nhn.no' });
    try {
      await expectRefused(await get(taskUrl(strict), bearer(bearerToken)), 401, /error="invalid_token"/, /issuer this server does not trust/);
    } finally {
      await strict.stop();
    }
  });

  it('a token from another issuer with the same iss (other keys) -> 401 invalid_token', async () => {
    const impostor = await startDevIdp();
    try {
      const foreign = await getToken(impostor, 'helsestasjon', 'system/Task.rs');
      const trusting = await startTestApi(idp, { issuer: impostor.issuer });
      try {
        await expectRefused(await get(taskUrl(trusting), bearer(foreign)), 401, /error="invalid_token"/, /No key in the issuer's JWKS/);
      } finally {
        await trusting.stop();
      }
    } finally {
      await impostor.stop();
    }
  });

  it('bad signature -> 401 invalid_token', async () => {
    const [h, p, s] = bearerToken.split('.');
    const flipped = `${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
    await expectRefused(await get(taskUrl(api), bearer(flipped)), 401, /error="invalid_token"/, /signature is not valid/);
  });

  it('changed claims under the original signature -> 401 invalid_token', async () => {
    const [h, , s] = bearerToken.split('.');
    const claims = { ...decodeJwt(bearerToken), scope: 'system/*.cruds' };
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    await expectRefused(await get(taskUrl(api), bearer(forged)), 401, /error="invalid_token"/, /signature is not valid/);
  });

  it('alg none -> 401 invalid_token', async () => {
    const unsigned = new UnsecuredJWT(decodeJwt(bearerToken)).encode();
    await expectRefused(await get(taskUrl(api), bearer(unsigned)), 401, /error="invalid_token"/, /algorithm this server does not accept/);
  });

  it('organisation not registered with this server -> 403 without a challenge', async () => {
    const other = await startTestApi(idp, { organisations: { '910000039': 'Organization/ostfold-familieambulatorium' } });
    try {
      const response = await get(taskUrl(other), bearer(bearerToken));
      expect(response.status).toBe(403);
      expect(response.headers.get('www-authenticate')).toBeNull();
      const body = (await response.json()) as { issue: { code: string; diagnostics: string }[] };
      expect(body.issue[0]).toMatchObject({ code: 'forbidden', diagnostics: 'Organisation 910000020 is not registered with this Forløp server; ask the operator to map it to an Organization.' });
    } finally {
      await other.stop();
    }
  });

  it('insufficient scope -> 403 insufficient_scope naming the scope', async () => {
    const token = await getToken(idp, 'helsestasjon', 'system/Encounter.cru');
    await expectRefused(
      await get(taskUrl(api), bearer(token)),
      403,
      /^Bearer realm="forlop", error="insufficient_scope", error_description=".*", scope="system\/Task.r"$/,
      /do not allow read on Task; it needs system\/Task.r/,
    );
  });
});

describe('DPoP', () => {
  const dpopHeaders = (proof?: string) => ({ authorization: `DPoP ${dpopToken}`, ...(proof ? { dpop: proof } : {}) });

  it('proof missing -> 401 invalid_dpop_proof', async () => {
    await expectRefused(await get(taskUrl(dpopApi), dpopHeaders()), 401, /^DPoP realm="forlop", error="invalid_dpop_proof"/, /needs a DPoP proof/);
  });

  it('DPoP-bound token sent as Bearer -> 401 invalid_token', async () => {
    await expectRefused(await get(taskUrl(api), bearer(dpopToken)), 401, /DPoP realm="forlop", error="invalid_token"/, /DPoP-bound/);
  });

  it('Bearer token when DPoP is required -> 401 with only the DPoP challenge', async () => {
    await expectRefused(await get(taskUrl(dpopApi), bearer(bearerToken)), 401, /^DPoP realm="forlop", error="invalid_token".*algs="/, /only DPoP-bound/);
  });

  it('proof for another URL -> 401 invalid_dpop_proof', async () => {
    const proof = await makeProof(key, { htm: 'GET', htu: `${dpopApi.url}/fhir/Task/other`, accessToken: dpopToken });
    await expectRefused(await get(taskUrl(dpopApi), dpopHeaders(proof)), 401, /error="invalid_dpop_proof"/, /"htu" must be the request URL/);
  });

  it('proof for another method -> 401 invalid_dpop_proof', async () => {
    const proof = await makeProof(key, { htm: 'POST', htu: taskUrl(dpopApi), accessToken: dpopToken });
    await expectRefused(await get(taskUrl(dpopApi), dpopHeaders(proof)), 401, /error="invalid_dpop_proof"/, /"htm" must be the request method GET/);
  });

  it('proof by another key than the token is bound to -> 401 invalid_dpop_proof', async () => {
    const proof = await makeProof(await newDpopKey(), { htm: 'GET', htu: taskUrl(dpopApi), accessToken: dpopToken });
    await expectRefused(await get(taskUrl(dpopApi), dpopHeaders(proof)), 401, /error="invalid_dpop_proof"/, /does not match the key the access token is bound to/);
  });

  it('proof signed by another key than its jwk header -> 401 invalid_dpop_proof', async () => {
    const other = await newDpopKey();
    const proof = await makeProof(other, { htm: 'GET', htu: taskUrl(dpopApi), accessToken: dpopToken }, { jwk: key.publicJwk });
    await expectRefused(await get(taskUrl(dpopApi), dpopHeaders(proof)), 401, /error="invalid_dpop_proof"/, /signature does not verify/);
  });

  it('proof for another access token (ath) -> 401 invalid_dpop_proof', async () => {
    const proof = await makeProof(key, { htm: 'GET', htu: taskUrl(dpopApi), accessToken: bearerToken });
    await expectRefused(await get(taskUrl(dpopApi), dpopHeaders(proof)), 401, /error="invalid_dpop_proof"/, /"ath" does not match/);
  });

  it('stale proof (iat outside the window) -> 401 invalid_dpop_proof', async () => {
    const proof = await makeProof(key, { htm: 'GET', htu: taskUrl(dpopApi), accessToken: dpopToken, iat: Math.floor(Date.now() / 1000) - 300 });
    await expectRefused(await get(taskUrl(dpopApi), dpopHeaders(proof)), 401, /error="invalid_dpop_proof"/, /older than 60 seconds/);
  });

  it('wrong typ -> 401 invalid_dpop_proof', async () => {
    const proof = await makeProof(key, { htm: 'GET', htu: taskUrl(dpopApi), accessToken: dpopToken }, { typ: 'JWT' });
    await expectRefused(await get(taskUrl(dpopApi), dpopHeaders(proof)), 401, /error="invalid_dpop_proof"/, /typ "dpop\+jwt"/);
  });

  it('replayed proof -> 401 invalid_dpop_proof the second time', async () => {
    const proof = await makeProof(key, { htm: 'GET', htu: taskUrl(dpopApi), accessToken: dpopToken });
    expect((await get(taskUrl(dpopApi), dpopHeaders(proof))).status).toBe(200);
    await expectRefused(await get(taskUrl(dpopApi), dpopHeaders(proof)), 401, /error="invalid_dpop_proof"/, /has been used before/);
  });
});
