import { createHash, timingSafeEqual } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { isRole, type Principal, type Role } from './roles.js';

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

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
      return { hash, principal: { id: `${role}-${hash.toString('hex').slice(0, 8)}`, roles: [role], via: 'api-key' } };
    });
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
      return roles.length && payload.sub ? { id: payload.sub, roles, via: 'jwt' } : undefined;
    } catch {
      return undefined;
    }
  };
}
