import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { UsageHistory } from './types';

const DAY_S = 86_400;
const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04'];

/** The mean amount of `resource` each queue held per hour, one line per queue. */
export function UsageChart({ history, resource }: { history: UsageHistory; resource: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return;
    // The last day at least, ending now: one hour of history is then a point in time, not a lone
    // dot on an axis of years (uPlot spreads a single x value that way).
    const now = Math.floor(Date.now() / 1000);
    const hours = [
      ...new Set([
        now - DAY_S,
        now,
        ...history.queues.flatMap((q) => q.hours.map((h) => Date.parse(h.start) / 1000)),
      ]),
    ].sort((a, b) => a - b);
    const series = history.queues.map((q) => {
      const at = new Map(q.hours.map((h) => [Date.parse(h.start) / 1000, h.held[resource] ?? 0]));
      return hours.map((t) => at.get(t) ?? null);
    });
    const plot = new uPlot(
      {
        width: Math.max(320, box.current.clientWidth),
        height: 240,
        series: [
          {},
          ...history.queues.map((q, i) => ({
            label: q.queue,
            stroke: COLOURS[i % COLOURS.length],
            width: 2,
            spanGaps: true,
            points: { show: true, size: 7 },
            value: (_u: uPlot, v: number | null) => (v == null ? '—' : v.toFixed(2)),
          })),
        ],
        axes: [{}, { label: 'mean held per hour', size: 60 }],
        scales: {
          y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
        },
      },
      [hours, ...series],
      box.current,
    );
    return () => plot.destroy();
  }, [history, resource]);
  return <div ref={box} class="chart" data-testid="usage-chart" />;
}
