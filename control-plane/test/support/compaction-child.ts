/**
 * Runs one compaction in its own process for the kill -9 test: COMPACTION_JOB is JSON
 * `{ s3, bucket, dataset, partition, stopAt }`; at step `stopAt` it prints `STEP <name>` and waits to be killed.
 */
import { createS3Client } from '../../src/sinks/object-store/object-store-sink.ts';
import { compactPartition } from '../../src/lake/compaction/compaction.ts';

const job = JSON.parse(process.env.COMPACTION_JOB ?? '{}') as {
  s3: Parameters<typeof createS3Client>[0]; bucket: string; dataset: Parameters<typeof compactPartition>[0]['dataset']; partition: string; stopAt: string;
};
await compactPartition({
  client: createS3Client(job.s3),
  bucket: job.bucket,
  dataset: job.dataset,
  partition: job.partition,
  targetFileBytes: 4096,
  rowGroupRows: 100,
  onStep: async (step) => {
    if (step !== job.stopAt) return;
    process.stdout.write(`STEP ${step}\n`);
    setInterval(() => undefined, 60_000);
    await new Promise(() => undefined);
  },
});
process.stdout.write('DONE\n');
