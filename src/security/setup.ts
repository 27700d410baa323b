import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Config } from '../config.js';
import { ApiKeys, jwtVerifier, parseApiKeys } from './credentials.js';
import { ContactCipher, parseEncryptionKeys } from './contact-crypto.js';
import { ROLES, type Principal, type Role } from './roles.js';

export interface Security {
  apiKeys: ApiKeys;
  verifyJwt?: (token: string) => Promise<Principal | undefined>;
  cipher: ContactCipher;
  /** Set in development when keys in use were generated, not configured: told once, at start-up. */
  devKeys?: {
    created: boolean;
    file: string;
    /** The staff API keys, when none (and no JWT issuer) were configured. */
    apiKeys?: Record<Role, string>;
    /** Whether contact details are sealed with the generated key (no CONTACT_ENCRYPTION_KEYS). */
    encryptionKey: boolean;
  };
}

interface DevKeys {
  apiKeys: Record<Role, string>;
  encryptionKey: string;
}

/**
 * Development convenience: with nothing configured, keys are generated once, kept in a file
 * beside the database (so a restart still opens stored contact details) and shown once.
 */
function devKeys(file: string): { keys: DevKeys; created: boolean } {
  if (existsSync(file)) {
    return { keys: JSON.parse(readFileSync(file, 'utf8')) as DevKeys, created: false };
  }
  const keys: DevKeys = {
    apiKeys: Object.fromEntries(ROLES.map((role) => [role, randomBytes(24).toString('base64url')])) as Record<Role, string>,
    encryptionKey: randomBytes(32).toString('base64'),
  };
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return { keys, created: true };
}

export async function setUpSecurity(config: Config): Promise<Security> {
  try {
    const configuredKeys = [...(config.TRIAGE_API_KEYS ? parseApiKeys(config.TRIAGE_API_KEYS) : []), ...(config.TRIAGE_API_KEYS_FILE ? parseApiKeys(readFileSync(config.TRIAGE_API_KEYS_FILE, 'utf8')) : [])];
    const verifyJwt = config.AUTH_JWKS_URL
      ? await jwtVerifier({ jwksUrl: config.AUTH_JWKS_URL, issuer: config.AUTH_JWT_ISSUER!, audience: config.AUTH_JWT_AUDIENCE!, rolesClaim: config.AUTH_JWT_ROLES_CLAIM })
      : undefined;
    const devApiKeys = configuredKeys.length === 0 && !verifyJwt;
    const devEncryption = !config.CONTACT_ENCRYPTION_KEYS;
    const dev = config.NODE_ENV !== 'production' && (devApiKeys || devEncryption) ? devKeys(config.DEV_KEYS_FILE) : undefined;
    const keys = devApiKeys ? Object.entries(dev!.keys.apiKeys).map(([role, key]) => ({ role: role as Role, key })) : configuredKeys;
    const encryption = devEncryption ? [{ id: 'dev', key: Buffer.from(dev!.keys.encryptionKey, 'base64') }] : parseEncryptionKeys(config.CONTACT_ENCRYPTION_KEYS!);
    return {
      apiKeys: new ApiKeys(keys),
      verifyJwt,
      cipher: new ContactCipher(encryption),
      devKeys: dev && { created: dev.created, file: config.DEV_KEYS_FILE, apiKeys: devApiKeys ? dev.keys.apiKeys : undefined, encryptionKey: devEncryption },
    };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }
}

/** Whose credential this is (an API key, or a bearer JWT): one check for the API and the CLI. */
export async function identify(security: Security, credential: { apiKey?: string; bearer?: string }): Promise<Principal | undefined> {
  if (credential.apiKey) {
    return security.apiKeys.verify(credential.apiKey);
  }
  if (credential.bearer && security.verifyJwt) {
    return security.verifyJwt(credential.bearer);
  }
  return undefined;
}
