/** Pipeline health: per dataset, records loaded, validation failures, sink errors and consumer lag, with rollouts marked. */
import { useState } from 'react';
import type { DatasetHealth, PipelineHealthReport } from '@sluice/shared/api/fleet-health';
import { Empty, ErrorState, Loading } from '../../ui/states.tsx';
import { TimeChart, type ChartMarkLine } from '../../ui/time-chart.tsx';
import { minuteSeries, rolloutMarks, type ChartMark, type LagSample } from './health-series.ts';
import { usePipelineHealth, useRollouts } from './use-pipeline-health.ts';

const WINDOWS: ReadonlyArray<[number, string]> = [
  [15, 'last 15 minutes'],
  [60, 'last hour'],
  [360, 'last 6 hours'],
  [1440, 'last 24 hours'],
];
const MARK_COLOURS: Record<ChartMark['kind'], string> = { start: '#6639ba', completed: '#1a7f37', 'rolled-back': '#c62828', aborted: '#9a6700' };

export function HealthPage() {
  const [minutes, setMinutes] = useState<number>(60);
  const health = usePipelineHealth(minutes);
  const rollouts = useRollouts();
  const report = health.data;
  return (
    <section aria-labelledby="health-title">
      <header className="page-header">
        <h1 id="health-title">Pipeline health</h1>
        <div className="toolbar">
          <label>
            Window
            <select value={minutes} onChange={(e) => setMinutes(Number(e.target.value))}>
              {WINDOWS.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </label>
        </div>
      </header>
      {health.error !== undefined && <ErrorState error={health.error} retry={health.reload} />}
      {rollouts.error !== undefined && <p className="sub">Rollouts could not be read, so none are drawn.</p>}
      {report?.lagError && <p className="notice">Consumer lag unavailable: {report.lagError}</p>}
      {report === undefined ? (
        health.error === undefined && <Loading what="pipeline health" />
      ) : report.datasets.length === 0 ? (
        <Empty>No dataset yet: create one (POST /api/v1/datasets) and records will show here.</Empty>
      ) : (
        report.datasets.map((d) => <DatasetCharts key={d.dataset} dataset={d} report={report} lag={health.lag.get(d.dataset) ?? []} marks={rolloutLines(rollouts.data ?? [], report)} />)
      )}
    </section>
  );
}

function rolloutLines(rollouts: Parameters<typeof rolloutMarks>[0], report: PipelineHealthReport): ChartMarkLine[] {
  const to = Date.parse(report.at) / 1000;
  return rolloutMarks(rollouts, to - report.minutes * 60, to).map((m) => ({ at: m.at, label: m.label, colour: MARK_COLOURS[m.kind] }));
}

function DatasetCharts({ dataset, report, lag, marks }: { dataset: DatasetHealth; report: PipelineHealthReport; lag: readonly LagSample[]; marks: ChartMarkLine[] }) {
  const series = minuteSeries(dataset, report);
  const t = dataset.totals;
  return (
    <article className="dataset-health" aria-labelledby={`ds-${dataset.dataset}`}>
      <h2 id={`ds-${dataset.dataset}`}>{dataset.dataset}</h2>
      <p className="sub">
        {t.ingested} loaded, {t.validationFailures} failed validation, {t.deadLettered} dead-lettered in the window; lag{' '}
        {dataset.lag === null ? 'unknown' : `${String(dataset.lag.records)} records, ${dataset.lag.seconds === null ? '—' : `${dataset.lag.seconds.toFixed(1)} s`}`}
      </p>
      <div className="charts">
        <TimeChart title="Records loaded per minute" unit="records" x={series.x} series={[{ label: 'loaded', values: series.ingested, colour: '#0b5cad' }]} marks={marks} />
        <TimeChart
          title="Failures per minute"
          unit="records"
          x={series.x}
          series={[
            { label: 'validation failures', values: series.validationFailures, colour: '#c62828' },
            { label: 'sink errors', values: series.sinkErrors, colour: '#9a6700' },
          ]}
          marks={marks}
        />
        <TimeChart
          title="Consumer lag (since this page opened)"
          unit="records / s"
          x={lag.map((s) => s.at)}
          series={[
            { label: 'records', values: lag.map((s) => s.records), colour: '#6639ba' },
            { label: 'seconds', values: lag.map((s) => s.seconds), colour: '#1a7f37' },
          ]}
          marks={marks}
        />
      </div>
    </article>
  );
}
