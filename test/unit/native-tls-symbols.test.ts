/**
 * The native engine takes OpenSSL from the Node process and links none of its own: every OpenSSL
 * function the addon calls must be a weak undefined symbol (native/connengine/tls.c's OSSL_FUNCS),
 * so that the addon still loads, and plain TCP still runs, in a process without OpenSSL (a node
 * built without it), even with LD_BIND_NOW. A call added to tls.c without its entry in the list
 * would be a strong reference: this reads the binary's dynamic symbol table to catch it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadNativeEngine } from '../../src/load/transport/native-engine.js';

interface DynamicSymbol {
  name: string;
  /** STB_GLOBAL 1, STB_WEAK 2. */
  bind: number;
  /** Section index; 0: undefined (resolved at load). */
  section: number;
}

/** The .dynsym entries of an ELF64 little-endian shared object. */
function dynamicSymbols(file: string): DynamicSymbol[] {
  const b = readFileSync(file);
  assert.equal(b.toString('latin1', 1, 4), 'ELF', `${file} is not an ELF file`);
  assert.equal(b[4], 2, 'ELF64');
  assert.equal(b[5], 1, 'little-endian');
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const section = (i: number): { type: number; offset: number; size: number; link: number; entsize: number } => {
    const at = shoff + i * shentsize;
    return {
      type: b.readUInt32LE(at + 4),
      offset: Number(b.readBigUInt64LE(at + 0x18)),
      size: Number(b.readBigUInt64LE(at + 0x20)),
      link: b.readUInt32LE(at + 0x28),
      entsize: Number(b.readBigUInt64LE(at + 0x38)),
    };
  };
  const SHT_DYNSYM = 11;
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (s.type !== SHT_DYNSYM) continue;
    const strings = section(s.link);
    const out: DynamicSymbol[] = [];
    for (let at = s.offset; at < s.offset + s.size; at += s.entsize) {
      const nameAt = strings.offset + b.readUInt32LE(at);
      const end = b.indexOf(0, nameAt);
      out.push({ name: b.toString('latin1', nameAt, end), bind: b[at + 4]! >> 4, section: b.readUInt16LE(at + 6) });
    }
    return out;
  }
  throw new Error(`${file} has no dynamic symbol table`);
}

const OPENSSL = /^(SSL|TLS|X509|ERR|BIO|PEM|EVP|OPENSSL|OpenSSL|ASN1|GENERAL_NAME|CRYPTO|d2i|i2d)_/;

describe('native engine: OpenSSL from the process', () => {
  it('every OpenSSL function the addon uses is a weak reference (the addon loads without OpenSSL)', () => {
    const n = loadNativeEngine();
    if (!n.available) throw new Error(`the native connection engine must be built (npm rebuild): ${n.reason}`);
    const undefinedOpenssl = dynamicSymbols(n.file).filter((s) => s.section === 0 && OPENSSL.test(s.name));
    assert.ok(undefinedOpenssl.some((s) => s.name === 'SSL_CTX_new'), 'the addon uses OpenSSL');
    const strong = undefinedOpenssl.filter((s) => s.bind !== 2).map((s) => s.name);
    assert.deepEqual(strong, [], 'add these to OSSL_FUNCS in native/connengine/tls.c');
    // Nor does it define any: it brings no OpenSSL of its own.
    assert.deepEqual(
      dynamicSymbols(n.file).filter((s) => s.section !== 0 && /^(SSL|X509|ERR|BIO|EVP)_/.test(s.name)).map((s) => s.name),
      [],
    );
  });
});
