/**
 * Dashboard sessions: kept in this process's memory, found by a random id in
 * a cookie that is HttpOnly, SameSite=Lax and Secure behind TLS
 * (https://owasp.org/www-community/SameSite, OWASP Session Management Cheat
 * Sheet). The tokens never reach the browser. A restart logs everyone out,
 * which the IdP's own session makes a redirect, not a new password.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Lang } from '../../web/i18n';

export interface SessionTokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  /** Epoch ms when the access token expires. */
  expiresAt: number;
}

export interface Session {
  id: string;
  /** The synchronizer token every POST must carry (OWASP CSRF Prevention Cheat Sheet). */
  csrf: string;
  user: { subject: string; name: string };
  tokens: SessionTokens;
  lastSeen: number;
}

export const SESSION_COOKIE = 'forlop_session';
export const LOGIN_COOKIE = 'forlop_login';
export const LANG_COOKIE = 'forlop_lang';

export function parseCookies(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const name = part.slice(0, i).trim();
    if (name && !(name in out)) out[name] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

export function setCookie(res: Response, name: string, value: string, options: { secure: boolean; maxAgeSeconds?: number; httpOnly?: boolean }): void {
  const parts = [`${name}=${encodeURIComponent(value)}`, 'Path=/', 'SameSite=Lax'];
  if (options.httpOnly !== false) parts.push('HttpOnly');
  if (options.secure) parts.push('Secure');
  if (options.maxAgeSeconds !== undefined) parts.push(`Max-Age=${options.maxAgeSeconds}`);
  res.append('Set-Cookie', parts.join('; '));
}

export const newSecret = () => randomBytes(32).toString('base64url');

/** Constant-time comparison of a submitted token with the session's. */
export function sameSecret(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  /** @param idleMs a session unused this long is gone (default 8 hours: a working day). */
  constructor(private readonly idleMs = 8 * 3_600_000) {}

  create(user: Session['user'], tokens: SessionTokens): Session {
    this.sweep();
    const session: Session = { id: newSecret(), csrf: newSecret(), user, tokens, lastSeen: Date.now() };
    this.sessions.set(session.id, session);
    return session;
  }

  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (Date.now() - session.lastSeen > this.idleMs) {
      this.sessions.delete(id);
      return undefined;
    }
    session.lastSeen = Date.now();
    return session;
  }

  destroy(id: string): void {
    this.sessions.delete(id);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (now - s.lastSeen > this.idleMs) this.sessions.delete(id);
  }
}

export function languageOf(req: Request): Lang {
  return parseCookies(req)[LANG_COOKIE] === 'en' ? 'en' : 'nb';
}
