import { describe, expect, it } from 'vitest';
import { replayFilter, REPLAY_BATCH } from './dlq.ts';
import { fakeControlPlane } from './fake-control-plane.ts';

const replayed = (id: string) => ({ id, recordId: null, replay: { replayedAt: '2026-12-02T10:00:00.000Z', keyId: 'k', keyName: 'ops', forced: false, topic: 't', partition: 0, offset: '1' } });

async function runWith(answers: unknown[]) {
  const { client, sent } = await fakeControlPlane({ 'POST /api/v1/dlq/replay': () => answers.shift() });
  const seen: number[] = [];
  const progress = await replayFilter(client, { dataset: 'meters' }, (p) => seen.push(p.replayed));
  return { progress, seen, bodies: sent.map((r) => JSON.parse(r.body ?? 'null') as unknown) };
}

describe('replayFilter', () => {
  it('goes on with the first answer’s `through` until none remain, summing what each request did', async () => {
    const { progress, seen, bodies } = await runWith([
      { replayed: [replayed('1'), replayed('2')], skipped: [], remaining: 2, through: '9' },
      { replayed: [replayed('3')], skipped: [{ id: '4', reason: 'replayed meanwhile' }], remaining: 0, through: '9' },
    ]);
    expect(bodies).toEqual([
      { filter: { dataset: 'meters' }, limit: REPLAY_BATCH },
      { filter: { dataset: 'meters' }, limit: REPLAY_BATCH, through: '9' },
    ]);
    expect(progress).toEqual({ replayed: 3, skipped: [{ id: '4', reason: 'replayed meanwhile' }], remaining: 0 });
    expect(seen).toEqual([2, 3]);
  });

  it('stops at once when nothing matched, and when a request made no progress', async () => {
    expect((await runWith([{ replayed: [], skipped: [], remaining: 0, through: null }])).bodies).toHaveLength(1);
    const stuck = await runWith([{ replayed: [], skipped: [], remaining: 5, through: '9' }]);
    expect(stuck.bodies).toHaveLength(1);
    expect(stuck.progress.remaining).toBe(5);
  });
});
