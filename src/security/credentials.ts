import { createHash, timingSafeEqual } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { isRole, type Principal, type Role } from './roles.js';

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * A principal's id says how it authenticated, so no credential can take another's id: a JWT whose
 * `sub` spells an API key's id is still `jwt:…`, and a claim made by the key stays the key's.
 */
export const principalId = {
  apiKey: (role: Role, hash: Buffer): string => `key:${role}:${hash.toString('hex').slice(0, 8)}`,
  jwt: (issuer: string, subject: string): string => `jwt:${issuer}|${subject}`,
};

/** Parses `role:key` pairs (comma or newline separated); throws naming the bad entry. */
export function parseApiKeys(text: string): { role: Role; key: string }[] {
  return text
    .split(/[,\n]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry && !entry.startsWith('#'))
    .map((entry) => {
      const at = entry.indexOf(':');
      const role = entry.slice(0, at);
      const key = entry.slice(at + 1);
      if (at < 0 || !isRole(role) || key.length < 16) {
        throw new Error(`API key entry "${entry.slice(0, Math.max(at, 0))}:…" must be role:key with a known role and a key of 16 or more characters`);
      }
      return { role, key };
    });
}

/**
 * API keys are held only as SHA-256 hashes and compared in constant time against every entry,
 * so neither memory nor timing reveals a key.
 */
export class ApiKeys {
  private readonly entries: { hash: Buffer; principal: Principal }[];

  constructor(keys: { role: Role; key: string }[]) {
    this.entries = keys.map(({ role, key }) => {
      const hash = sha256(key);
      return { hash, principal: { id: principalId.apiKey(role, hash), roles: [role], via: 'api-key' } };
    });
    // Two different keys of one role whose hashes share a prefix would be one handler.
    const byId = new Map<string, Buffer>();
    for (const { hash, principal } of this.entries) {
      const other = byId.get(principal.id);
      if (other && !other.equals(hash)) {
        throw new Error(`two API keys would both be ${principal.id}: replace one of them with a newly generated key`);
      }
      byId.set(principal.id, hash);
    }
  }

  get size(): number {
    return this.entries.length;
  }

  verify(key: string): Principal | undefined {
    const hash = sha256(key);
    let found: Principal | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.hash, hash)) {
        found = entry.principal;
      }
    }
    return found;
  }
}

export interface JwtOptions {
  jwksUrl: string;
  issuer: string;
  audience: string;
  rolesClaim: string;
}

/**
 * Bearer JWTs checked against the identity provider's JWKS (signature, issuer, audience,
 * expiry): how an NHS deployment plugs in its own sign-in. `file:` URLs read a local JWKS.
 */
export async function jwtVerifier(options: JwtOptions): Promise<(token: string) => Promise<Principal | undefined>> {
  let keys: JWTVerifyGetKey;
  if (options.jwksUrl.startsWith('file:')) {
    const { readFile } = await import('node:fs/promises');
    keys = createLocalJWKSet(JSON.parse(await readFile(new URL(options.jwksUrl), 'utf8')));
  } else {
    keys = createRemoteJWKSet(new URL(options.jwksUrl));
  }
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, keys, { issuer: options.issuer, audience: options.audience, requiredClaims: ['sub', 'exp'] });
      const claim = payload[options.rolesClaim];
      const roles = (Array.isArray(claim) ? claim : [claim]).filter(isRole);
      const name = typeof payload.name === 'string' && payload.name.trim() ? { name: payload.name.trim().slice(0, 100) } : {};
      return roles.length && payload.sub ? { id: principalId.jwt(options.issuer, payload.sub), roles, via: 'jwt', ...name } : undefined;
    } catch {
      return undefined;
    }
  };
}
