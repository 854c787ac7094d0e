/**
 * HyperLogLog (Flajolet et al. 2007, with the small-range linear counting of Heule et al. 2013) over
 * 2^11 registers: about 2.3 % standard error, and exact-looking answers for small counts. Registers merge
 * by taking the maximum, so per-pane sketches add up to any window. Stored as JSON in a pane's jsonb:
 * sparse (register → rank) while few registers are set, dense (base64 of all registers) after that.
 */
import { createHash } from 'node:crypto';

export type HllState = { s: Record<string, number> } | { d: string };

const P = 11;
const M = 1 << P;
/** A sparse state with more entries than this is stored dense (the base64 form is then the smaller). */
const SPARSE_LIMIT = 200;

export function emptyHll(): HllState {
  return { s: {} };
}

/** Register index and rank (position of the first 1 bit after the index bits) of a value. */
function registerOf(value: string): [number, number] {
  const digest = createHash('md5').update(value).digest();
  const h1 = digest.readUInt32BE(0);
  const h2 = digest.readUInt32BE(4);
  const index = h1 >>> (32 - P);
  const rest = (h1 << P) >>> 0;
  const rank = rest !== 0 ? Math.clz32(rest) + 1 : 32 - P + (h2 === 0 ? 33 : Math.clz32(h2) + 1);
  return [index, rank];
}

export function hllRegisters(state: HllState): Uint8Array {
  if ('d' in state) return new Uint8Array(Buffer.from(state.d, 'base64'));
  const out = new Uint8Array(M);
  for (const [k, r] of Object.entries(state.s)) out[Number(k)] = Math.max(out[Number(k)]!, r);
  return out;
}

export function hllState(regs: Uint8Array): HllState {
  let set = 0;
  for (const r of regs) if (r > 0) set++;
  if (set > SPARSE_LIMIT) return { d: Buffer.from(regs).toString('base64') };
  const s: Record<string, number> = {};
  regs.forEach((r, i) => {
    if (r > 0) s[String(i)] = r;
  });
  return { s };
}

/** Adds `value` to working registers (a fold keeps registers, and stores `hllState(registers)` once). */
export function addToRegisters(regs: Uint8Array, value: string): void {
  const [index, rank] = registerOf(value);
  if (regs[index]! < rank) regs[index] = rank;
}

export function newRegisters(): Uint8Array {
  return new Uint8Array(M);
}

export function mergeHll(a: HllState, b: HllState): HllState {
  if ('s' in a && 's' in b) {
    const s = { ...a.s };
    for (const [k, r] of Object.entries(b.s)) s[k] = Math.max(s[k] ?? 0, r);
    return Object.keys(s).length > SPARSE_LIMIT ? hllState(hllRegisters({ s })) : { s };
  }
  const ra = hllRegisters(a);
  const rb = hllRegisters(b);
  for (let i = 0; i < M; i++) ra[i] = Math.max(ra[i]!, rb[i]!);
  return hllState(ra);
}

export function estimateDistinct(state: HllState): number {
  const regs = hllRegisters(state);
  let sum = 0;
  let zeros = 0;
  for (const r of regs) {
    sum += 2 ** -r;
    if (r === 0) zeros++;
  }
  const alpha = 0.7213 / (1 + 1.079 / M);
  const raw = (alpha * M * M) / sum;
  if (raw <= 2.5 * M && zeros > 0) return Math.round(M * Math.log(M / zeros));
  return Math.round(raw);
}
