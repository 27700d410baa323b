import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Contact details are encrypted at rest with AES-256-GCM. Each value carries the id of the key
 * that sealed it, so keys can rotate: the first configured key seals, every key still opens.
 */
export class ContactCipher {
  private readonly keys: Map<string, Buffer>;
  private readonly current: string;

  constructor(keys: { id: string; key: Buffer }[]) {
    if (keys.length === 0) {
      throw new Error('at least one contact encryption key is needed');
    }
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
    this.current = keys[0]!.id;
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.current)!, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', this.current, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join(':');
  }

  open(sealed: string): string {
    const [version, id, iv, tag, body] = sealed.split(':');
    const key = id ? this.keys.get(id) : undefined;
    if (version !== 'v1' || !key || !iv || !tag || body === undefined) {
      throw new Error(`cannot open contact details sealed with key ${id ?? '?'}: the key is not configured`);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}

/** Parses `id:base64key` pairs (32-byte keys), comma separated, the sealing key first. */
export function parseEncryptionKeys(text: string): { id: string; key: Buffer }[] {
  return text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
    .map((entry) => {
      const [id, b64] = entry.split(':');
      const key = Buffer.from(b64 ?? '', 'base64');
      if (!id || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || key.length !== 32) {
        throw new Error(`encryption key "${id ?? ''}" must be id:base64 of exactly 32 bytes`);
      }
      return { id, key };
    });
}
