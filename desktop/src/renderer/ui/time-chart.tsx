/**
 * A time-series chart (uPlot, canvas): one or more series over shared x (unix seconds), and marks (rollout
 * starts and ends) drawn as labelled vertical lines across the plot. A leaf: it draws what it is given.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  values: ReadonlyArray<number | null>;
  colour: string;
}

export interface ChartMarkLine {
  at: number;
  label: string;
  colour: string;
}

const HEIGHT = 180;

function marksPlugin(marks: () => readonly ChartMarkLine[]): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx } = u;
          const { left, top, width, height } = u.bbox;
          const px = devicePixelRatio;
          ctx.save();
          ctx.font = `${String(11 * px)}px system-ui, sans-serif`;
          ctx.textBaseline = 'top';
          // Labels are stacked one line apart, so marks close in time stay readable; near the right edge a
          // label is written to the left of its line.
          for (const [i, mark] of marks().entries()) {
            const x = Math.round(u.valToPos(mark.at, 'x', true));
            const rightHalf = x > left + width / 2;
            ctx.textAlign = rightHalf ? 'right' : 'left';
            ctx.strokeStyle = mark.colour;
            ctx.fillStyle = mark.colour;
            ctx.lineWidth = 2 * px;
            ctx.setLineDash([6 * px, 4 * px]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            ctx.fillText(mark.label, rightHalf ? x - 4 * px : x + 4 * px, top + (2 + 13 * (i % 6)) * px);
          }
          ctx.restore();
        },
      ],
    },
  };
}

/** The x range of samples at unix seconds `x` (sorted): their span, or two minutes around a lone sample. */
export function xRange(x: readonly number[]): [number, number] {
  const first = x[0];
  const last = x.at(-1);
  if (first === undefined || last === undefined) {
    const now = Math.floor(Date.now() / 1000);
    return [now - 300, now];
  }
  return first === last ? [first - 60, last + 60] : [first, last];
}

/** A y range around data that need not include zero, with a tenth of its span as headroom either side. */
export function dataRange(min: number | null, max: number | null): [number, number] {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  const pad = max === min ? Math.max(1, Math.abs(max) * 0.1) : (max - min) * 0.1;
  return [min - pad, max + pad];
}

/** `fromZero` (the default) suits rates and counts; a measure (a temperature) gets a y range from its own data. */
export function TimeChart({ title, x, series, marks, unit, fromZero = true }: { title: string; x: readonly number[]; series: readonly ChartSeries[]; marks: readonly ChartMarkLine[]; unit?: string; fromZero?: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const marksRef = useRef(marks);
  marksRef.current = marks;
  const xRef = useRef(x);
  xRef.current = x;
  const data = [x, ...series.map((s) => s.values)] as uPlot.AlignedData;
  const shape = series.map((s) => `${s.label}:${s.colour}`).join('|');

  useEffect(() => {
    const target = box.current;
    if (target === null) return;
    const plot = new uPlot(
      {
        width: Math.max(300, target.clientWidth),
        height: HEIGHT,
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.colour, width: 2 }))],
        axes: [{}, { label: unit, size: 60 }],
        // From zero (a rate or a count), with headroom so the highest point is not cut off at the top.
        scales: {
          y: { range: (_u, min, max) => (fromZero ? [0, Math.max(1, max * 1.1)] : dataRange(min, max)) },
          // From the data itself: one sample (a lag snapshot just after the page opened) has no width, and
          // uPlot would pad it by years; it gets a minute each side instead.
          x: { time: true, range: () => xRange(xRef.current) },
        },
        legend: { live: true },
        plugins: [marksPlugin(() => marksRef.current)],
      },
      data,
      target,
    );
    chart.current = plot;
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(300, target.clientWidth), height: HEIGHT }));
    resize.observe(target);
    return () => {
      resize.disconnect();
      plot.destroy();
      chart.current = null;
    };
    // Rebuilt only when the series themselves change; new data goes through setData below.
  }, [shape, unit, fromZero]);

  useEffect(() => {
    chart.current?.setData(data);
  });

  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}: ${series.map((s) => `${s.label} latest ${String(s.values.at(-1) ?? 'none')}`).join(', ')}`} />
    </figure>
  );
}
