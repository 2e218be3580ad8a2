// Secrets kept in the database are sealed with AES-256-GCM under keys derived
// (HKDF-SHA256) from one operator secret, a key of its own per purpose, so a
// copy of the database alone opens nothing and one purpose's key opens no other's.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export class Sealer {
  private readonly key: Buffer;

  /** `purpose` is the HKDF info: a different purpose, a different key. */
  constructor(secret: string, purpose: string) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'user-service', purpose, 32));
  }

  /** iv.tag.ciphertext in base64url; `context` (e.g. the row's id) is bound in, so a sealed value can't be moved to another row. */
  seal(context: string, plaintext: Buffer): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv).setAAD(Buffer.from(context));
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return [iv, cipher.getAuthTag(), sealed].map((part) => part.toString('base64url')).join('.');
  }

  /** The plaintext, or undefined when this key did not seal it for `context` (or it was altered). */
  open(context: string, sealed: string): Buffer | undefined {
    const [iv, tag, ciphertext] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv).setAAD(Buffer.from(context)).setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      return undefined;
    }
  }
}
