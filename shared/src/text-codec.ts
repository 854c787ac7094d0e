/**
 * UTF-8 and base64 through the WHATWG globals every runtime of shared/src has (Node, browsers, Electron).
 * shared/src compiles without DOM or Node types, so the globals are typed here, narrowly, once.
 */
interface Decoder {
  decode(bytes?: Uint8Array, options?: { stream?: boolean }): string;
}
interface Codecs {
  TextDecoder: new (label: 'utf-8', options?: { fatal?: boolean; ignoreBOM?: boolean }) => Decoder;
  TextEncoder: new () => { encode(text: string): Uint8Array };
  btoa(binary: string): string;
}

const codecs = globalThis as unknown as Codecs;
const fatal = new codecs.TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenient = new codecs.TextDecoder('utf-8', { ignoreBOM: true });
const encoder = new codecs.TextEncoder();

/** The bytes as text, or undefined when they are not valid UTF-8 (never replacement characters). */
export function utf8OrUndefined(bytes: Uint8Array): string | undefined {
  try {
    return fatal.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Decoding that replaces what is not UTF-8 with U+FFFD: only for text already known to be cut short. */
export function utf8Lenient(bytes: Uint8Array): string {
  return lenient.decode(bytes);
}

export function utf8Bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

export function base64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return codecs.btoa(binary);
}
