/**
 * Analytics: for a dataset that declares aggregations, one aggregation's windows as a chart (a figure per
 * group: records, a measure's statistic or a distinct count) with its anomalies marked on it, the current
 * minute's counters, and the anomalies found over the same range. What Grafana's analytics dashboard shows
 * where Docker runs, the console shows natively.
 */
import { useMemo, useState } from 'react';
import type { DatasetViewResponse } from '../../api/datasets.ts';
import { ResponseError } from '@sluice/shared/api/response-error';
import { hrefOf } from '../../app/router.ts';
import { OptionSelect } from '../../ui/option-select.tsx';
import { Empty, ErrorState, Loading } from '../../ui/states.tsx';
import { TimeChart } from '../../ui/time-chart.tsx';
import { useDatasets } from '../datasets/use-datasets.ts';
import { AnomaliesTable, CountersTable } from './analytics-tables.tsx';
import {
  anomalyMarks,
  figureLabel,
  figureOptions,
  groupSeries,
  groupsByVolume,
  parseFigure,
  SERIES_COLOURS,
  VIEWS,
  type ViewId,
} from './analytics-view.ts';
import { useAggregates, useAnomalies, useCounters } from './use-analytics.ts';

const hasAggregations = (d: DatasetViewResponse): boolean => (d.spec.aggregations ?? []).length > 0;

export function AnalyticsPage({ dataset }: { dataset?: string }) {
  const datasets = useDatasets();
  const candidates = useMemo(() => (datasets.data ?? []).filter(hasAggregations), [datasets.data]);
  if (datasets.data === undefined)
    return datasets.error === undefined ? (
      <Loading what="datasets" />
    ) : (
      <ErrorState error={datasets.error} retry={datasets.reload} />
    );
  if (candidates.length === 0) {
    return (
      <section aria-labelledby="analytics-title">
        <h1 id="analytics-title">Analytics</h1>
        <Empty>
          No dataset declares aggregations yet. Give a dataset an `aggregations` list and its windows,
          counters and anomalies show here.
        </Empty>
      </section>
    );
  }
  const chosen = candidates.find((d) => d.spec.name === dataset) ?? candidates[0]!;
  return <DatasetAnalytics key={chosen.spec.name} dataset={chosen} candidates={candidates} />;
}

function DatasetAnalytics({
  dataset,
  candidates,
}: {
  dataset: DatasetViewResponse;
  candidates: readonly DatasetViewResponse[];
}) {
  const name = dataset.spec.name;
  const aggregations = dataset.spec.aggregations ?? [];
  const [aggregation, setAggregation] = useState(aggregations[0]?.name ?? '');
  const spec = aggregations.find((a) => a.name === aggregation) ?? aggregations[0]!;
  const [figureValue, setFigureValue] = useState('count');
  const [viewId, setViewId] = useState<ViewId>('1h');
  const [group, setGroup] = useState('');
  const view = VIEWS.find((v) => v.id === viewId)!;
  const figures = figureOptions(spec);
  const figure = parseFigure(figures.some(([v]) => v === figureValue) ? figureValue : 'count');

  const aggregates = useAggregates(name, spec.name, view.minutes, view.windowMinutes);
  const counters = useCounters(name);
  const anomalies = useAnomalies(name, view.minutes);
  const windows = useMemo(() => aggregates.data?.windows ?? [], [aggregates.data]);
  const groups = useMemo(() => groupsByVolume(windows), [windows]);
  const chart = groupSeries(windows, figure, group);
  const fromS = aggregates.data ? Date.parse(aggregates.data.from) / 1000 : 0;
  const toS = aggregates.data ? Date.parse(aggregates.data.to) / 1000 : 0;
  const anomalyList = anomalies.data?.items ?? [];
  const marks = anomalyMarks(anomalyList, fromS, toS);
  const anomaliesMissing =
    anomalies.error instanceof ResponseError && anomalies.error.name === 'NotFoundError';

  return (
    <section aria-labelledby="analytics-title">
      <header className="page-header">
        <h1 id="analytics-title">Analytics</h1>
        <div className="toolbar" role="search">
          <OptionSelect
            label="Dataset"
            value={name}
            options={candidates.map((d) => [d.spec.name, d.spec.name] as const)}
            onChange={(next) => {
              window.location.hash = hrefOf.analytics(next);
            }}
          />
          <OptionSelect
            label="Aggregation"
            value={spec.name}
            options={aggregations.map((a) => [a.name, a.name] as const)}
            onChange={(next) => {
              setAggregation(next);
              setFigureValue('count');
              setGroup('');
            }}
          />
          <OptionSelect label="Figure" value={figureValue} options={figures} onChange={setFigureValue} />
          <OptionSelect
            label="Range"
            value={viewId}
            options={VIEWS.map((v) => [v.id, v.label] as const)}
            onChange={setViewId}
          />
          <OptionSelect
            label="Group"
            value={group}
            options={[
              ['', `busiest ${String(Math.min(6, groups.length || 6))}`],
              ...groups.slice(0, 200).map((g) => [g, g] as const),
            ]}
            onChange={setGroup}
          />
        </div>
      </header>

      <article className="dataset-health" aria-labelledby="analytics-windows">
        <h2 id="analytics-windows">
          {figureLabel(figure)} per {String(view.windowMinutes)}-minute window · {spec.name}
        </h2>
        {aggregates.error !== undefined && <ErrorState error={aggregates.error} retry={aggregates.reload} />}
        {aggregates.data === undefined ? (
          aggregates.error === undefined && <Loading what="windows" />
        ) : windows.length === 0 ? (
          <Empty>No records in this range for {spec.name}.</Empty>
        ) : (
          <>
            <p className="sub" data-figure="groups">
              {chart.drawn === chart.groups
                ? `${String(chart.groups)} group${chart.groups === 1 ? '' : 's'}`
                : `${String(chart.drawn)} of ${String(chart.groups)} groups (the busiest)`}
              , {String(windows.length)} windows
              {aggregates.data.truncated
                ? ' (more windows than one view loads: the latest are left out)'
                : ''}
              {marks.length > 0
                ? `; ${String(marks.length)} anomal${marks.length === 1 ? 'y' : 'ies'} marked`
                : ''}
            </p>
            <TimeChart
              title={`${figureLabel(figure)} (${spec.name})`}
              unit={figureLabel(figure)}
              x={chart.x}
              series={chart.series.map((s, i) => ({
                ...s,
                colour: SERIES_COLOURS[i % SERIES_COLOURS.length]!,
              }))}
              marks={marks}
              fromZero={figure.kind !== 'measure'}
            />
          </>
        )}
      </article>

      <h2>Real-time counters</h2>
      {counters.error !== undefined && <ErrorState error={counters.error} retry={counters.reload} />}
      {counters.data === undefined ? (
        counters.error === undefined && <Loading what="counters" />
      ) : (
        <CountersTable counters={counters.data} />
      )}

      <h2>Anomalies</h2>
      {anomaliesMissing ? (
        <Empty>
          This control plane does not answer anomalies (GET /api/v1/analytics/{name}/anomalies: not found);
          windows and counters are shown without them.
        </Empty>
      ) : anomalies.error !== undefined ? (
        <ErrorState error={anomalies.error} retry={anomalies.reload} />
      ) : anomalies.data === undefined ? (
        <Loading what="anomalies" />
      ) : anomalyList.length === 0 ? (
        <Empty>No anomalies in the {view.label.split(',')[0]}.</Empty>
      ) : (
        <AnomaliesTable items={anomalyList} />
      )}
    </section>
  );
}
