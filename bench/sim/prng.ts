/**
 * Counter-based randomness: every draw is a hash of (seed, stream, sequence…), not the next state of a
 * generator. Event n of a run therefore looks the same however many events came before it, in whatever
 * batches they were cut, which is what makes a run reproducible from its seed (and lets a test ask for event
 * 10,000 without generating the 9,999 before it).
 */

/** splitmix32's finaliser: a bijective 32-bit mix with good avalanche. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A 32-bit hash of integer parts (each folded in by its low and high 32 bits, so sequences past 2³² differ). */
export function hash32(...parts: readonly number[]): number {
  let h = 0x2545f491;
  for (const part of parts) {
    const low = part | 0;
    const high = Math.floor(part / 0x1_0000_0000) | 0;
    h = mix32(h ^ low);
    h = mix32(h ^ high);
  }
  return h;
}

/** A uniform number in [0, 1) decided by its parts. */
export function uniform(...parts: readonly number[]): number {
  return hash32(...parts) / 0x1_0000_0000;
}

/** A standard normal number decided by its parts (Box–Muller over two derived uniforms). */
export function normal(...parts: readonly number[]): number {
  const u = 1 - uniform(...parts, 1); // (0, 1]: log(0) never happens
  const v = uniform(...parts, 2);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** An integer in [0, n). */
export function pick(n: number, ...parts: readonly number[]): number {
  return Math.floor(uniform(...parts) * n);
}

/** An index chosen by weight. */
export function weighted(weights: readonly number[], ...parts: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let at = uniform(...parts) * total;
  for (let i = 0; i < weights.length; i++) {
    at -= weights[i]!;
    if (at < 0) return i;
  }
  return weights.length - 1;
}

/** `chars` hex characters decided by the parts (trace ids, session ids). */
export function hex(chars: number, ...parts: readonly number[]): string {
  let out = '';
  for (let i = 0; out.length < chars; i++)
    out += hash32(...parts, i)
      .toString(16)
      .padStart(8, '0');
  return out.slice(0, chars);
}

/** A seed given as text (a word or a number) as the integer the draws use. */
export function seedOf(text: string): number {
  if (/^\d+$/.test(text) && Number(text) <= Number.MAX_SAFE_INTEGER) return Number(text);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
