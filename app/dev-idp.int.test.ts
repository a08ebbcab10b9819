import { decodeJwt, decodeProtectedHeader } from 'jose';
import { getToken, makeProof, newDpopKey, startTestApi } from '../test/security/harness';
import { discoverJwksUri } from '../server/auth';
import { DEV_API_AUDIENCE, grantableScopes, startDevIdp, type DevIdp } from './dev-idp';

let idp: DevIdp;
beforeAll(async () => {
  idp = await startDevIdp({ issuerPath: '/oidc' });
});
afterAll(() => idp?.stop());

describe('startDevIdp', () => {
  it('serves discovery under its issuer path on loopback', async () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oidc$/);
    const discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.issuer).toBe(idp.issuer);
    expect(discovery.jwks_uri).toBe(idp.jwksUri);
    expect(discovery.token_endpoint).toBe(idp.tokenEndpoint);
    expect(discovery.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256']));
    expect(discovery.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['private_key_jwt', 'client_secret_basic', 'client_secret_post']));
  });

  it('is found by discoverJwksUri, which insists on the exact issuer', async () => {
    expect(await discoverJwksUri(idp.issuer)).toBe(idp.jwksUri);
    await expect(discoverJwksUri(`${idp.issuer}/`)).rejects.toThrow(`names issuer "${idp.issuer}", not "${idp.issuer}/"`);
  });

  it('issues a DPoP-bound JWT access token (private_key_jwt) that the API middleware accepts', async () => {
    const key = await newDpopKey();
    const token = await getToken(idp, 'familieambulatorium', 'system/Task.rs system/Patient.r', { dpop: key });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(decodeJwt(token)).toMatchObject({
      iss: idp.issuer,
      aud: DEV_API_AUDIENCE,
      client_id: 'familieambulatorium',
      scope: 'system/Task.rs system/Patient.r',
      cnf: { jkt: key.jkt },
      'helseid://claims/client/claims/orgnr_parent': '910000063',
      'helseid://claims/client/claims/orgnr_child': '910000039',
      forlop_role: 'system',
    });
    const api = await startTestApi(idp, { dpop: { required: true }, typ: 'at+jwt' });
    try {
      const url = `${api.url}/fhir/Task/1`;
      const proof = await makeProof(key, { htm: 'GET', htu: url, accessToken: token });
      const response = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: proof } });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { forlop: { clientId: string; organisation: { reference: string } } };
      expect(body.forlop.clientId).toBe('familieambulatorium');
      expect(body.forlop.organisation.reference).toBe('Organization/ostfold-familieambulatorium');
    } finally {
      await api.stop();
    }
  });

  it('issues tokens to the "-secret" twins with client_secret_basic, as curl would', async () => {
    const { clientId, clientSecret } = idp.clients.koordinator.secretClient;
    const response = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/Task.rs system/Patient.c' }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string; token_type: string; scope: string };
    expect(body.token_type).toBe('Bearer');
    // The coordinator may read everything but create only Task/CarePlan/Communication: Patient.c is dropped.
    expect(body.scope).toBe('system/Task.rs');
    expect(decodeJwt(body.access_token)).toMatchObject({ client_id: 'koordinator-secret', forlop_role: 'coordinator' });
  });

  it('issues tokens to the "-post" twins with client_secret_post', async () => {
    const { clientId, clientSecret } = idp.clients.helsestasjon.postClient;
    const response = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'system/*.cruds' }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { scope: string }).scope).toBe('system/*.cruds');
  });

  it('uses the documented development secrets', () => {
    expect(idp.clients.helsestasjon.secretClient).toEqual({ clientId: 'helsestasjon-secret', clientSecret: 'dev-secret-helsestasjon' });
    expect(idp.clients.helsestasjon.postClient).toEqual({ clientId: 'helsestasjon-post', clientSecret: 'dev-secret-helsestasjon' });
  });

  it('refuses a wrong client secret', async () => {
    const response = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('helsestasjon-secret:wrong').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/Task.rs' }),
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_client');
  });
});

describe('grantableScopes', () => {
  it('keeps requested scopes covered by an allowed scope, drops the rest', () => {
    expect(grantableScopes('system/Task.rs system/Patient.cu openid system/Task.s?x=1', ['system/*.rs', 'system/Task.cruds'])).toEqual(['system/Task.rs']);
    expect(grantableScopes('system/Encounter.cruds', ['system/*.cruds'])).toEqual(['system/Encounter.cruds']);
  });
});
