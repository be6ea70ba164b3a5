import { useEffect, useMemo, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { UsageHistory } from './types';

const DAY_S = 86_400;
const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04'];

/** One line of a chart: its points as [unix seconds, value]. */
export interface ChartLine {
  label: string;
  points: [number, number][];
}

/** The mean amount of `resource` each queue held per hour, one line per queue. */
export function UsageChart({ history, resource }: { history: UsageHistory; resource: string }) {
  const lines = useMemo(
    () =>
      history.queues.map((q) => ({
        label: q.queue,
        points: q.hours.map(
          (h) => [Date.parse(h.start) / 1000, h.held[resource] ?? 0] as [number, number],
        ),
      })),
    [history, resource],
  );
  return <HourlyChart lines={lines} yLabel="mean held per hour" testId="usage-chart" />;
}

/** Hourly figures over the last day at least, one line per group. */
export function HourlyChart({
  lines,
  yLabel,
  testId,
  yMax,
}: {
  lines: ChartLine[];
  yLabel: string;
  testId: string;
  /** A fixed top of the y axis (100 for percentages); else the data's. */
  yMax?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return;
    // The last day at least, ending now: one hour of history is then a point in time, not a lone
    // dot on an axis of years (uPlot spreads a single x value that way).
    const now = Math.floor(Date.now() / 1000);
    const hours = [
      ...new Set([now - DAY_S, now, ...lines.flatMap((l) => l.points.map(([t]) => t))]),
    ].sort((a, b) => a - b);
    const series = lines.map((l) => {
      const at = new Map(l.points);
      return hours.map((t) => at.get(t) ?? null);
    });
    const plot = new uPlot(
      {
        width: Math.max(320, box.current.clientWidth),
        height: 240,
        series: [
          {},
          ...lines.map((l, i) => ({
            label: l.label,
            stroke: COLOURS[i % COLOURS.length],
            width: 2,
            spanGaps: true,
            points: { show: true, size: 7 },
            value: (_u: uPlot, v: number | null) => (v == null ? '—' : v.toFixed(2)),
          })),
        ],
        axes: [{}, { label: yLabel, size: 60 }],
        scales: {
          y: { range: (_u, _min, max) => [0, yMax ?? Math.max(1, max * 1.1)] },
        },
      },
      [hours, ...series],
      box.current,
    );
    return () => plot.destroy();
  }, [lines, yLabel, yMax]);
  return <div ref={box} class="chart" data-testid={testId} />;
}
