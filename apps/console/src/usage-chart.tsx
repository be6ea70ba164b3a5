import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { UsageHistory } from './types';

const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04'];

/** The mean amount of `resource` each queue held per hour, one line per queue. */
export function UsageChart({ history, resource }: { history: UsageHistory; resource: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return;
    const hours = [
      ...new Set(history.queues.flatMap((q) => q.hours.map((h) => Date.parse(h.start) / 1000))),
    ].sort((a, b) => a - b);
    const series = history.queues.map((q) => {
      const at = new Map(q.hours.map((h) => [Date.parse(h.start) / 1000, h.held[resource] ?? 0]));
      return hours.map((t) => at.get(t) ?? 0);
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
            points: { show: true, size: 6 },
            value: (_u: uPlot, v: number | null) => (v == null ? '—' : v.toFixed(2)),
          })),
        ],
        axes: [{}, { label: `${resource} held (mean per hour)`, size: 60 }],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      },
      [hours, ...series],
      box.current,
    );
    return () => plot.destroy();
  }, [history, resource]);
  return <div ref={box} class="chart" data-testid="usage-chart" />;
}
