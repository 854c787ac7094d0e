import type { Logger } from '@sluice/shared/node/logger';
import { KafkaProducer } from '@sluice/shared/node/kafka';
import type { ControlPlaneConfig } from '../config.ts';
import { DatasetStore } from '../datasets/dataset-store.ts';
import { jobKindRegistry } from '../lake/jobs/kinds.ts';
import { LakeWorker } from '../lake/jobs/worker.ts';
import { onSignals, prepareState } from './lifecycle.ts';

/** Runs lake jobs (lake/jobs/worker.ts) until SIGTERM, which hands running batches back and then exits. */
export async function worker(config: ControlPlaneConfig, logger: Logger): Promise<void> {
  const pool = await prepareState(config, logger);
  const producer = new KafkaProducer({ brokers: config.kafkaBrokers, clientId: 'sluice-control-plane-worker' });
  const running = new LakeWorker({ pool, config, logger, registry: jobKindRegistry(), datasets: new DatasetStore(pool), send: (messages) => producer.send(messages) });
  await running.start();
  onSignals(async () => {
    await running.stop();
    await producer.close();
    await pool.end();
  }, logger);
}
